"""FF1 format-preserving encryption (NIST SP 800-38G rev 1, Algorithms 7 and 8) on AES.

FF1 is a ten-round Feistel network over strings of digits in a radix: the
ciphertext has the plaintext's length and alphabet. The round function is
AES CBC-MAC, so a value costs ten short MACs.

>>> ff1 = FF1(bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C"))
>>> ff1.encrypt("0123456789")  # NIST FF1 sample 1
'2433477484'
>>> ff1.decrypt("2433477484")
'0123456789'

Why it is fast enough for a warehouse column: the first CBC-MAC block P
depends only on (radix, length, tweak length), so its encryption E(P) is
cached; a 16-digit value with an empty tweak, or a tweak of up to 11 bytes
(`fpe` tweaks a card with its 4 clear digits), then costs one AES block per
round. Digit strings become Python ints once on the way in and once on the
way out; the rounds work on ints.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
MIN_RADIX = 2
MAX_RADIX = len(ALPHABET)  # SP 800-38G allows 2**16; the alphabet above stops at 36
MIN_DOMAIN = 1_000_000  # SP 800-38G rev 1: radix**minlen >= 10**6
MAX_LEN = 2**32  # the length n is encoded in 4 bytes of P
MAX_TWEAK_LEN = 2**32 - 1  # the tweak length t is encoded in 4 bytes of P
AES_KEY_BYTES = (16, 24, 32)

_BLOCK = 16
_ROUNDS = 10
_MASK_128 = (1 << 128) - 1


def min_length(radix: int) -> int:
    """The shortest input FF1 accepts in `radix`: at least 2, and radix**n >= 10**6.

    >>> min_length(10), min_length(36), min_length(2)
    (6, 4, 20)
    """
    length = 2
    while radix**length < MIN_DOMAIN:
        length += 1
    return length


class FF1:
    """FF1-AES with one key (16, 24 or 32 bytes) over `ALPHABET[:radix]`.

    One object holds one AES context: share it between calls, not between
    threads running at the same time.

    >>> ff1 = FF1(bytes(16), radix=36)
    >>> token = ff1.encrypt("8x2k1q", tweak=b"user")
    >>> len(token), ff1.decrypt(token, tweak=b"user")
    (6, '8x2k1q')
    >>> ff1.encrypt("x2k")
    Traceback (most recent call last):
    ...
    ValueError: FF1 in radix 36 takes 4 to 4294967296 digits (SP 800-38G: radix**n >= 1000000); got 3
    """

    def __init__(self, key: bytes, radix: int = 10):
        if len(key) not in AES_KEY_BYTES:
            raise ValueError(f"an FF1 key is an AES key of 16, 24 or 32 bytes; got {len(key)} bytes")
        if not MIN_RADIX <= radix <= MAX_RADIX:
            raise ValueError(f"FF1 radix must be between {MIN_RADIX} and {MAX_RADIX}; got {radix}")
        self.radix = radix
        self.alphabet = ALPHABET[:radix]
        self.min_length = min_length(radix)
        self._digit_set = frozenset(self.alphabet)
        # One ECB context for every block: CBC-MAC with a zero IV is ECB on
        # chained XORs, and creating cipher objects per value costs more than AES.
        self._ecb = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()
        self._layouts: dict[tuple[int, int], _Layout] = {}

    def encrypt(self, digits: str, tweak: bytes = b"") -> str:
        """FF1.Encrypt (Algorithm 7): a string of the same length over the same alphabet.

        >>> FF1(bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")).encrypt(
        ...     "0123456789", tweak=bytes.fromhex("39383736353433323130"))
        '6124200773'
        """
        layout = self._layout(digits, tweak)
        a = int(digits[: layout.u], self.radix)
        b = int(digits[layout.u :], self.radix)
        tweak_int = int.from_bytes(tweak, "big")
        for i in range(_ROUNDS):
            modulus = layout.modulus_u if i % 2 == 0 else layout.modulus_v
            a, b = b, (a + self._round(layout, tweak_int, i, b)) % modulus
        return self._text(a, layout.u) + self._text(b, layout.n - layout.u)

    def decrypt(self, digits: str, tweak: bytes = b"") -> str:
        """FF1.Decrypt (Algorithm 8), the inverse of `encrypt` for the same tweak.

        >>> FF1(bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")).decrypt("6124200773",
        ...     tweak=bytes.fromhex("39383736353433323130"))
        '0123456789'
        """
        layout = self._layout(digits, tweak)
        a = int(digits[: layout.u], self.radix)
        b = int(digits[layout.u :], self.radix)
        tweak_int = int.from_bytes(tweak, "big")
        for i in reversed(range(_ROUNDS)):
            modulus = layout.modulus_u if i % 2 == 0 else layout.modulus_v
            a, b = (b - self._round(layout, tweak_int, i, a)) % modulus, a
        return self._text(a, layout.u) + self._text(b, layout.n - layout.u)

    def _layout(self, digits: str, tweak: bytes) -> _Layout:
        n, t = len(digits), len(tweak)
        if not self._digit_set.issuperset(digits):
            position = next(k for k, ch in enumerate(digits) if ch not in self._digit_set)
            # The position, never the character: values are personal data.
            raise ValueError(
                f"FF1 in radix {self.radix} takes only the characters {self.alphabet!r};"
                f" the character at position {position} is not one of them"
            )
        if not self.min_length <= n <= MAX_LEN:
            raise ValueError(
                f"FF1 in radix {self.radix} takes {self.min_length} to {MAX_LEN} digits"
                f" (SP 800-38G: radix**n >= {MIN_DOMAIN}); got {n}"
            )
        if t > MAX_TWEAK_LEN:
            raise ValueError(f"an FF1 tweak has at most {MAX_TWEAK_LEN} bytes; got {t}")
        layout = self._layouts.get((n, t))
        if layout is None:
            layout = self._layouts[n, t] = _Layout(self.radix, n, t, self._aes_int)
        return layout

    def _aes_int(self, block: int) -> int:
        return int.from_bytes(self._ecb.update(block.to_bytes(_BLOCK, "big")), "big")

    def _round(self, layout: _Layout, tweak_int: int, i: int, num_b: int) -> int:
        """y = NUM(S) for round i, where S is the first d bytes of the PRF output (steps 6.i-6.iv)."""
        # Q = T || [0]^((-t-b-1) mod 16) || [i]^1 || [NUM(B)]^b, as one integer.
        q = (tweak_int << layout.tweak_shift) | (i << layout.b_bits) | num_b
        r = layout.mac_of_p
        for shift in layout.q_block_shifts:
            r = self._aes_int(r ^ ((q >> shift) & _MASK_128))
        if layout.extra_blocks == 0:
            return r >> layout.s_drop_bits
        s = r
        for j in range(1, layout.extra_blocks + 1):
            s = (s << 128) | self._aes_int(r ^ j)
        return s >> layout.s_drop_bits

    def _text(self, value: int, length: int) -> str:
        if self.radix == 10:
            return f"{value:0{length}d}"
        chars = []
        for _ in range(length):
            value, digit = divmod(value, self.radix)
            chars.append(self.alphabet[digit])
        return "".join(reversed(chars))


class _Layout:
    """What FF1 derives from (radix, n, t) alone, computed once per length and tweak length."""

    __slots__ = (
        "n",
        "u",
        "modulus_u",
        "modulus_v",
        "b_bits",
        "tweak_shift",
        "q_block_shifts",
        "extra_blocks",
        "s_drop_bits",
        "mac_of_p",
    )

    def __init__(self, radix: int, n: int, t: int, aes_int):
        u = n // 2
        v = n - u
        self.n, self.u = n, u
        self.modulus_u, self.modulus_v = radix**u, radix**v
        # b = ceil(ceil(v * log2(radix)) / 8), exactly: ceil(log2(radix**v)) is the
        # bit length of radix**v - 1, with no floating point.
        b = ((self.modulus_v - 1).bit_length() + 7) // 8
        d = 4 * ((b + 3) // 4) + 4
        pad = (-t - b - 1) % _BLOCK
        q_bytes = t + pad + 1 + b
        self.b_bits = 8 * b
        self.tweak_shift = 8 * (pad + 1 + b)
        self.q_block_shifts = tuple(8 * (q_bytes - _BLOCK * (k + 1)) for k in range(q_bytes // _BLOCK))
        blocks_of_s = (d + _BLOCK - 1) // _BLOCK
        self.extra_blocks = blocks_of_s - 1
        self.s_drop_bits = 8 * (_BLOCK * blocks_of_s - d)
        # P = [1]^1 || [2]^1 || [1]^1 || [radix]^3 || [10]^1 || [u mod 256]^1 || [n]^4 || [t]^4
        p = bytes([1, 2, 1]) + radix.to_bytes(3, "big") + bytes([10, u % 256])
        p += n.to_bytes(4, "big") + t.to_bytes(4, "big")
        self.mac_of_p = aes_int(int.from_bytes(p, "big"))
