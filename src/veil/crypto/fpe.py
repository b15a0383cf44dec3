"""The format layer of the `fpe` strategy: FF1 over the digits of a value, separators in place.

Digits are the characters 0-9; any other character that is not alphanumeric
(space, dash, dot, parentheses...) is a separator and stays where it is. A
value with a letter, or any alphanumeric that is not 0-9, is malformed and
gives None.

The FF1 tweak is the `keep_last` digits kept in clear (their ASCII bytes;
empty when nothing is kept), as SP 800-38G intends for the part of a value
that is not encrypted: two cards that share their first 12 digits and differ
in the last 4 then get unrelated token prefixes, instead of identical ones
that tell whoever sees the tokens that the cards share their leading digits.
The token still depends on the value and the key alone, so a value gets the
same token in every table and joins on the token keep working. The clear
digits are still in the token, so `decrypt` finds the tweak again.

>>> cipher = FormatPreservingCipher(bytes(32))
>>> a = cipher.encrypt("4111111111111111", keep_last=4)
>>> b = cipher.encrypt("4111111111112222", keep_last=4)
>>> a[:12] != b[:12], cipher.decrypt(b, keep_last=4)
(True, '4111111111112222')

>>> cipher = FormatPreservingCipher(bytes(32))
>>> token = cipher.encrypt("4111-1111-1111-1111", keep_last=4, luhn="invalid")
>>> token[-5:], len(token), is_luhn_valid(token.replace("-", ""))
('-1111', 19, False)
>>> cipher.decrypt(token, keep_last=4, luhn="invalid")
'4111-1111-1111-1111'

Card numbers (`luhn`): with "valid" or "invalid" the last digit that is not
kept in clear is computed instead of encrypted, so that the token's Luhn
residue is the original's plus 0 ("valid") or plus 1 ("invalid"). A valid
card then always gives a valid token, or always an invalid one that can
never be mistaken for a real card (PCI). Every Luhn residue moves by the
same shift, so the mapping stays a bijection and `decrypt` inverts it.

Fewer than 6 encrypted digits (10**6 values, the SP 800-38G minimum) give
None, never the value in clear.
"""

from __future__ import annotations

from veil.crypto.ff1 import FF1

LUHN_MODES = ("any", "valid", "invalid")
MIN_ENCRYPTED_DIGITS = 6  # radix 10: 10**6 is the smallest FF1 domain allowed

_LUHN_SHIFT = {"valid": 0, "invalid": 1}
# A Luhn-doubled digit: 2d, minus 9 when above 9. A permutation of 0-9, so a
# digit in a doubled position is still recovered from the residue.
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
_UNDOUBLED = tuple(_DOUBLED.index(k) for k in range(10))
_DOUBLED_OF_CHAR = {str(d): doubled for d, doubled in enumerate(_DOUBLED)}
_DIGITS = frozenset("0123456789")


def luhn_residue(digits: str) -> int:
    """The Luhn sum of `digits` mod 10 (0 for a valid card number).

    From the right: the last digit counts as it is, every second one doubled
    (minus 9 when the double is above 9).

    >>> luhn_residue("79927398713"), luhn_residue("79927398710")
    (0, 7)
    """
    if not _DIGITS.issuperset(digits):
        raise ValueError("luhn_residue takes the characters 0-9 only")
    plain = sum(map(int, digits[-1::-2]))
    doubled = sum(map(_DOUBLED_OF_CHAR.__getitem__, digits[-2::-2]))
    return (plain + doubled) % 10


def is_luhn_valid(digits: str) -> bool:
    """Whether `digits` (0-9 only, at least one) passes the Luhn check.

    >>> is_luhn_valid("4111111111111111"), is_luhn_valid("4111111111111112"), is_luhn_valid("")
    (True, False, False)
    """
    return bool(digits) and luhn_residue(digits) == 0


class FormatPreservingCipher:
    """FF1-AES (radix 10; tweak: the digits kept in clear) over the digits of formatted values.

    `key` is an AES key: 16, 24 or 32 bytes. Like FF1, one object is for one
    thread at a time.

    >>> cipher = FormatPreservingCipher(bytes(16))
    >>> token = cipher.encrypt("+1 (555) 010-9999", keep_last=4)
    >>> "".join("#" if ch.isdigit() else ch for ch in token[:-4]), token[-4:]
    ('+# (###) ###-', '9999')
    >>> cipher.decrypt(token, keep_last=4)
    '+1 (555) 010-9999'
    >>> cipher.encrypt("12-345"), cipher.encrypt("AB123456"), cipher.encrypt(None)
    (None, None, None)
    """

    def __init__(self, key: bytes):
        self._ff1 = FF1(key, radix=10)

    def encrypt(self, value: str | None, *, keep_last: int = 0, luhn: str = "any") -> str | None:
        """The token of `value`: its digits encrypted, all else as it was; None when it cannot be.

        >>> FormatPreservingCipher(bytes(16)).encrypt("4111 1111 1111 1111", keep_last=4)[-4:]
        '1111'
        """
        return self._apply(value, keep_last, luhn, encrypting=True)

    def decrypt(self, token: str | None, *, keep_last: int = 0, luhn: str = "any") -> str | None:
        """The value of `token`, given the `keep_last` and `luhn` that made it.

        >>> cipher = FormatPreservingCipher(bytes(16))
        >>> cipher.decrypt(cipher.encrypt("123456789", luhn="valid"), luhn="valid")
        '123456789'
        """
        return self._apply(token, keep_last, luhn, encrypting=False)

    def _apply(self, value: str | None, keep_last: int, luhn: str, *, encrypting: bool) -> str | None:
        if luhn not in LUHN_MODES:
            raise ValueError(f"luhn must be one of {', '.join(LUHN_MODES)}; got {luhn!r}")
        if keep_last < 0:
            raise ValueError(f"keep_last must be 0 or more; got {keep_last}")
        if not value:
            return None
        digits = _digits_of(value)
        if digits is None:
            return None
        free = len(digits) - keep_last
        computed = luhn != "any"
        encrypted_count = free - 1 if computed else free
        if encrypted_count < MIN_ENCRYPTED_DIGITS:
            return None
        kept = digits[free:]
        part = digits[:encrypted_count]
        tweak = kept.encode("ascii")   # b"" without keep_last: the tokens of before tweaks existed
        new_part = self._ff1.encrypt(part, tweak) if encrypting else self._ff1.decrypt(part, tweak)
        if computed:
            new_part += _luhn_digit(digits, new_part, kept, _LUHN_SHIFT[luhn], encrypting=encrypting)
        new_digits = new_part + kept
        if len(new_digits) == len(value):
            return new_digits
        replacements = iter(new_digits)
        return "".join(next(replacements) if ch in _DIGITS else ch for ch in value)


def _digits_of(value: str) -> str | None:
    """The digits 0-9 of `value` in order; None when it has any other alphanumeric."""
    if value.isascii() and value.isdigit():
        return value
    digits = []
    for ch in value:
        if ch in _DIGITS:
            digits.append(ch)
        elif ch.isalnum():
            return None
    return "".join(digits)


def _luhn_digit(source: str, new_part: str, kept: str, shift: int, *, encrypting: bool) -> str:
    """The digit after `new_part` that gives the result the Luhn residue it must have.

    Encrypting: residue(token) = residue(value) + shift; decrypting, the same
    equation solved for the value: residue(value) = residue(token) - shift.
    """
    target = (luhn_residue(source) + (shift if encrypting else -shift)) % 10
    rest = luhn_residue(new_part + "0" + kept)
    contribution = (target - rest) % 10
    doubled_position = len(kept) % 2 == 1  # the digit has len(kept) digits to its right
    return str(_UNDOUBLED[contribution] if doubled_position else contribution)
