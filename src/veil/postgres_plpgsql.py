"""The PL/pgSQL of veil's reversible strategies on PostgreSQL: FF1, the `fpe` format, vault tokens, the envelope.

Each is a transcription of veil's Python, so that PostgreSQL gives DuckDB's
output byte for byte (`fpe`) or the same format (`tokenize`, `encrypt`):

- `veil_private.ff1_encrypt(k, digits, tweak)`: FF1 (SP 800-38G, Algorithm 7),
  radix 10, as `veil.crypto.ff1.FF1.encrypt`; the PRF is one pgcrypto
  `encrypt_iv(P || Q, k, 0, 'aes-cbc/pad:none')` (CBC-MAC: its last block),
  the numeral arithmetic is `numeric`;
- `veil_private.fpe_encrypt(k, value, keep_last, luhn)`: the format layer of
  `veil.crypto.fpe.FormatPreservingCipher.encrypt` (separators in place, the
  kept digits as the tweak, the Luhn digit computed);
- `veil_private.random_token(value, keep_last, luhn)`: `veil.vault.random_token`,
  from pgcrypto's `gen_random_bytes`;
- `veil_private.seal(enc, mac, key_id, plaintext, context)`: the envelope of
  `veil.crypto.envelope` (AES-256-CBC, then HMAC-SHA256 over what it binds).

Python's `str.isalnum`, `isdigit` and `isupper` decide what is a letter or a
digit in those functions; PostgreSQL's regular expressions know only ASCII in
the C locale, so the non-ASCII characters of each class are written into the
function as a bracket expression generated from this Python's `unicodedata`:

>>> import re
>>> [bool(re.fullmatch(f"[{unicode_class(str.isalnum)}]", ch)) for ch in ("é", "٣", "7", "–", " ")]
[True, True, False, False, False]

None of these functions sees a key but as its argument `k`: the SECURITY
DEFINER functions of `veil.postgres_reversible` read the keys by name and
pass them in. Markers: `@PGCRYPTO@` is pgcrypto's schema; `@ALNUM@`, `@DIGIT@`,
`@UPPER@` the classes.

>>> sorted(HELPERS)
['ff1_encrypt', 'fpe_encrypt', 'luhn_digit', 'luhn_residue', 'random_token', 'seal']
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from veil.crypto.envelope import PREFIX as ENVELOPE_PREFIX


@lru_cache(maxsize=None)
def unicode_class(predicate: Callable[[str], bool]) -> str:
    """The non-ASCII characters for which `predicate` holds, as the inside of a regex bracket (ranges)."""
    parts: list[str] = []
    start = None
    for code in range(0x80, 0x110001):
        holds = code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF and predicate(chr(code))
        if holds and start is None:
            start = code
        elif not holds and start is not None:
            end = code - 1
            parts.append(chr(start) if start == end else f"{chr(start)}-{chr(end)}")
            start = None
    return "".join(parts)


def render(body: str, pgcrypto_schema: str) -> str:
    """A helper's CREATE statement with its markers filled in."""
    quoted = '"' + pgcrypto_schema.replace('"', '""') + '"'
    return (body.replace("@PGCRYPTO@", quoted)
            .replace("@ALNUM@", "0-9A-Za-z" + unicode_class(str.isalnum))
            .replace("@DIGIT@", "0-9" + unicode_class(str.isdigit))
            .replace("@UPPER@", "A-Z" + unicode_class(str.isupper))
            .replace("@LETTER@", "A-Za-z" + unicode_class(str.isalnum)))


FF1_ENCRYPT = r"""
CREATE OR REPLACE FUNCTION veil_private.ff1_encrypt(k bytea, x text, tweak bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $veil$
DECLARE
  n int := length(x);
  u int := length(x) / 2;
  v int := length(x) - length(x) / 2;
  t int := octet_length(tweak);
  b int := 1;
  d int;
  modulus_u numeric;
  modulus_v numeric;
  a numeric;
  bn numeric;
  y numeric;
  c numeric;
  p bytea;
  head bytea;
  q bytea;
  r bytea;
  s bytea;
  blk bytea;
  h text;
  j int;
BEGIN
  IF x !~ '^[0-9]+$' THEN
    RAISE EXCEPTION 'veil: FF1 takes the digits 0-9 only';
  END IF;
  IF n < 6 THEN
    RAISE EXCEPTION 'veil: FF1 in radix 10 takes 6 digits or more (SP 800-38G: radix**n >= 1000000); got %', n;
  END IF;
  modulus_u := ('1' || repeat('0', u))::numeric;
  modulus_v := ('1' || repeat('0', v))::numeric;
  WHILE power(256::numeric, b) < modulus_v LOOP   -- b = ceil(ceil(v * log2(10)) / 8), exactly
    b := b + 1;
  END LOOP;
  d := 4 * ((b + 3) / 4) + 4;
  -- P = [1]^1 || [2]^1 || [1]^1 || [radix]^3 || [10]^1 || [u mod 256]^1 || [n]^4 || [t]^4
  p := '\x010201'::bytea || '\x00000a'::bytea || '\x0a'::bytea || set_byte('\x00'::bytea, 0, u % 256)
       || int4send(n) || int4send(t);
  head := tweak || decode(repeat('00', (((-t - b - 1) % 16) + 16) % 16), 'hex');
  a := substr(x, 1, u)::numeric;
  bn := substr(x, u + 1)::numeric;
  FOR i IN 0..9 LOOP
    -- Q = T || [0]^((-t-b-1) mod 16) || [i]^1 || [NUM(B)]^b
    h := '';
    y := bn;
    WHILE y > 0 LOOP
      h := lpad(to_hex(mod(y, 4294967296)::bigint), 8, '0') || h;
      y := div(y, 4294967296);
    END LOOP;
    q := head || set_byte('\x00'::bytea, 0, i) || decode(right(repeat('0', 2 * b) || h, 2 * b), 'hex');
    -- R = PRF(P || Q): the last block of AES-CBC with a zero IV
    r := @PGCRYPTO@.encrypt_iv(p || q, k, '\x00000000000000000000000000000000'::bytea, 'aes-cbc/pad:none');
    r := substring(r from octet_length(r) - 15);
    -- S = R || CIPH(R xor [1]^16) || CIPH(R xor [2]^16) ..., its first d bytes
    s := r;
    j := 1;
    WHILE octet_length(s) < d LOOP
      blk := r;
      FOR m IN 0..3 LOOP
        blk := set_byte(blk, 15 - m, get_byte(blk, 15 - m) # ((j >> (8 * m)) & 255));
      END LOOP;
      s := s || @PGCRYPTO@.encrypt(blk, k, 'aes-ecb/pad:none');
      j := j + 1;
    END LOOP;
    h := encode(substring(s from 1 for d), 'hex');
    y := 0;
    FOR m IN 0..(d / 4 - 1) LOOP
      y := y * 4294967296 + ('x' || substr(h, 8 * m + 1, 8))::bit(32)::bigint;
    END LOOP;
    IF i % 2 = 0 THEN
      c := mod(a + y, modulus_u);
    ELSE
      c := mod(a + y, modulus_v);
    END IF;
    a := bn;
    bn := c;
  END LOOP;
  RETURN lpad(a::text, u, '0') || lpad(bn::text, v, '0');
END
$veil$"""

LUHN_RESIDUE = r"""
CREATE OR REPLACE FUNCTION veil_private.luhn_residue(digits text) RETURNS int
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $veil$
DECLARE
  n int := length(digits);
  total int := 0;
  dv int;
BEGIN
  FOR i IN 0..n - 1 LOOP   -- i: the digit's place from the right
    dv := ascii(substr(digits, n - i, 1)) - 48;
    IF dv < 0 OR dv > 9 THEN
      RAISE EXCEPTION 'veil: luhn_residue takes the characters 0-9 only';
    END IF;
    IF i % 2 = 1 THEN
      dv := (ARRAY[0, 2, 4, 6, 8, 1, 3, 5, 7, 9])[dv + 1];
    END IF;
    total := total + dv;
  END LOOP;
  RETURN total % 10;
END
$veil$"""

LUHN_DIGIT = r"""
CREATE OR REPLACE FUNCTION veil_private.luhn_digit(source text, new_part text, kept text, shift int) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $veil$
DECLARE
  target int := (veil_private.luhn_residue(source) + shift) % 10;
  contribution int;
BEGIN
  contribution := ((target - veil_private.luhn_residue(new_part || '0' || kept)) % 10 + 10) % 10;
  IF length(kept) % 2 = 1 THEN   -- a doubled place: the digit whose double gives the contribution
    RETURN ((ARRAY[0, 5, 1, 6, 2, 7, 3, 8, 4, 9])[contribution + 1])::text;
  END IF;
  RETURN contribution::text;
END
$veil$"""

FPE_ENCRYPT = r"""
CREATE OR REPLACE FUNCTION veil_private.fpe_encrypt(k bytea, value text, keep_last int, luhn text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog
AS $veil$
DECLARE
  digits text;
  free int;
  encrypted_count int;
  kept text;
  new_part text;
  new_digits text;
  out text := '';
  next_digit int := 1;
  ch text;
BEGIN
  IF luhn IS NULL OR luhn NOT IN ('any', 'valid', 'invalid') THEN
    RAISE EXCEPTION 'veil: luhn must be one of any, valid, invalid; got %', coalesce(luhn, 'NULL');
  END IF;
  IF keep_last IS NULL OR keep_last < 0 THEN
    RAISE EXCEPTION 'veil: keep_last must be 0 or more; got %', coalesce(keep_last::text, 'NULL');
  END IF;
  IF value IS NULL OR value = '' THEN
    RETURN NULL;
  END IF;
  IF value ~ '[@LETTER@]' THEN   -- a letter, or an alphanumeric that is not 0-9: malformed
    RETURN NULL;
  END IF;
  digits := regexp_replace(value, '[^0-9]+', '', 'g');
  free := length(digits) - keep_last;
  encrypted_count := CASE WHEN luhn = 'any' THEN free ELSE free - 1 END;
  IF encrypted_count < 6 THEN
    RETURN NULL;
  END IF;
  kept := substr(digits, free + 1);
  new_part := veil_private.ff1_encrypt(k, substr(digits, 1, encrypted_count), convert_to(kept, 'UTF8'));
  IF luhn <> 'any' THEN
    new_part := new_part || veil_private.luhn_digit(digits, new_part, kept, CASE luhn WHEN 'valid' THEN 0 ELSE 1 END);
  END IF;
  new_digits := new_part || kept;
  IF length(new_digits) = length(value) THEN
    RETURN new_digits;
  END IF;
  FOR i IN 1..length(value) LOOP   -- separators stay where they are
    ch := substr(value, i, 1);
    IF strpos('0123456789', ch) > 0 THEN
      out := out || substr(new_digits, next_digit, 1);
      next_digit := next_digit + 1;
    ELSE
      out := out || ch;
    END IF;
  END LOOP;
  RETURN out;
END
$veil$"""

RANDOM_TOKEN = r"""
CREATE OR REPLACE FUNCTION veil_private.random_token(value text, keep_last int, luhn text) RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog
AS $veil$
DECLARE
  n int := length(value);
  chars text[];
  ascii_digits int[] := '{}';    -- places of 0-9, in order
  digit_places int[] := '{}';    -- places of every character Python's isdigit() takes
  kept_from int;
  kept int[] := '{}';
  free_digits int[] := '{}';
  replaced int := 0;
  ch text;
  r int;
  target int;
  place int;
  from_right int;
  rest text := '';
  wanted int;
BEGIN
  IF value IS NULL OR value = '' THEN
    RETURN NULL;
  END IF;
  chars := regexp_split_to_array(value, '');
  FOR i IN 1..n LOOP
    IF strpos('0123456789', chars[i]) > 0 THEN
      ascii_digits := ascii_digits || i;
    END IF;
  END LOOP;
  IF keep_last > 0 THEN   -- Python's digits[len(digits) - keep_last:], negative starts included
    kept_from := cardinality(ascii_digits) - keep_last;
    IF kept_from < 0 THEN
      kept_from := greatest(0, kept_from + cardinality(ascii_digits));
    END IF;
    kept := ascii_digits[kept_from + 1:];
  END IF;
  FOR i IN 1..n LOOP
    ch := chars[i];
    IF ch ~ '[@DIGIT@]' THEN
      digit_places := digit_places || i;
    END IF;
    CONTINUE WHEN NOT ch ~ '[@ALNUM@]' OR i = ANY(kept);
    replaced := replaced + 1;
    IF ch ~ '[@DIGIT@]' THEN
      LOOP
        r := get_byte(@PGCRYPTO@.gen_random_bytes(1), 0);
        EXIT WHEN r < 250;
      END LOOP;
      chars[i] := chr(48 + r % 10);
    ELSE
      LOOP
        r := get_byte(@PGCRYPTO@.gen_random_bytes(1), 0);
        EXIT WHEN r < 234;
      END LOOP;
      chars[i] := chr(CASE WHEN ch ~ '[@UPPER@]' THEN 65 ELSE 97 END + r % 26);
    END IF;
  END LOOP;
  IF replaced = 0 THEN
    RETURN NULL;
  END IF;
  FOREACH place IN ARRAY ascii_digits LOOP
    IF NOT place = ANY(kept) THEN
      free_digits := free_digits || place;
    END IF;
  END LOOP;
  IF luhn IN ('valid', 'invalid') AND cardinality(free_digits) > 0 THEN
    FOREACH place IN ARRAY ascii_digits LOOP
      rest := rest || substr(value, place, 1);
    END LOOP;
    target := (veil_private.luhn_residue(rest) + CASE luhn WHEN 'valid' THEN 0 ELSE 1 END) % 10;
    place := free_digits[cardinality(free_digits)];
    from_right := cardinality(digit_places) - array_position(digit_places, place);
    chars[place] := '0';
    rest := '';
    FOREACH r IN ARRAY digit_places LOOP
      rest := rest || chars[r];
    END LOOP;
    wanted := ((target - veil_private.luhn_residue(rest)) % 10 + 10) % 10;
    IF from_right % 2 = 1 THEN
      wanted := (ARRAY[0, 5, 1, 6, 2, 7, 3, 8, 4, 9])[wanted + 1];
    END IF;
    chars[place] := wanted::text;
  END IF;
  RETURN array_to_string(chars, '');
END
$veil$"""

SEAL = r"""
CREATE OR REPLACE FUNCTION veil_private.seal(enc bytea, mac bytea, key_id text, plaintext text, context text)
RETURNS text
LANGUAGE plpgsql VOLATILE STRICT PARALLEL SAFE
SET search_path = pg_catalog
AS $veil$
DECLARE
  iv bytea := @PGCRYPTO@.gen_random_bytes(16);
  ct bytea;
  ad bytea := convert_to('@ENVELOPE@|' || key_id || '|' || context, 'UTF8');
  tag bytea;
BEGIN
  ct := @PGCRYPTO@.encrypt_iv(convert_to(plaintext, 'UTF8'), enc, iv, 'aes-cbc/pad:pkcs');
  tag := @PGCRYPTO@.hmac(int4send(octet_length(ad)) || ad || iv || ct, mac, 'sha256');
  RETURN '@ENVELOPE@:' || key_id
         || ':' || translate(encode(iv, 'base64'), E'+/=\n', '-_')
         || ':' || translate(encode(ct, 'base64'), E'+/=\n', '-_')
         || ':' || translate(encode(tag, 'base64'), E'+/=\n', '-_');
END
$veil$""".replace("@ENVELOPE@", ENVELOPE_PREFIX)

HELPERS = {   # name -> (argument types, CREATE statement); created in this order (callees first)
    "ff1_encrypt": ("bytea, text, bytea", FF1_ENCRYPT),
    "luhn_residue": ("text", LUHN_RESIDUE),
    "luhn_digit": ("text, text, text, int", LUHN_DIGIT),
    "fpe_encrypt": ("bytea, text, int, text", FPE_ENCRYPT),
    "random_token": ("text, int, text", RANDOM_TOKEN),
    "seal": ("bytea, bytea, text, text, text", SEAL),
}
