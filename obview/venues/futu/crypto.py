"""OpenD body encryption, as the official SDK does it (docs/futu.md, "Encryption").

Both ends hold the same 1024-bit RSA private key (OpenD's `rsa_private_key`, the client's
key file). InitConnect bodies, both ways, are RSA PKCS#1 v1.5: encrypted with the key's
public half in 100-byte pieces (128 bytes each once encrypted), decrypted with the private
key 128 bytes at a time. Every later body is AES-128 with the `connAESKey` from the
InitConnect reply: CBC with the reply's `aesCBCiv` (the same IV for every packet, PKCS#7
padding) or, without an IV, Futu's ECB variant (zero padding plus a 16-byte trailer whose
last byte is the plain length mod 16). The header's SHA-1 is always of the plain body, so
whoever decrypts checks the digest afterwards: a wrong key shows up there.

The key file's contents never leave this module: errors name the file, never its bytes.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_BITS = 1024  # what OpenD and the SDK (fixed 100/128-byte pieces) support
RSA_PLAIN_PIECE = 100
RSA_BLOCK = KEY_BITS // 8
AES_BLOCK = 16
_PKCS1 = padding.PKCS1v15()

# Common.PacketEncAlgo
ENC_FTAES_ECB = 0
ENC_NONE = -1
ENC_AES_ECB = 1
ENC_AES_CBC = 2


class KeyFileError(ValueError):
    """The RSA key file cannot be used (one line, naming the file, never its contents)."""


class RsaKey:
    """A 1024-bit RSA private key read from a PEM file (PKCS#1 or PKCS#8, no passphrase)."""

    __slots__ = ("path", "_private", "_public")

    def __init__(self, path: str, private: rsa.RSAPrivateKey) -> None:
        self.path = path
        self._private = private
        self._public = private.public_key()

    def __repr__(self) -> str:  # never the key material
        return f"RsaKey({self.path!r})"

    def encrypt(self, plain: bytes) -> bytes:
        encrypt = self._public.encrypt
        return b"".join(encrypt(plain[i:i + RSA_PLAIN_PIECE], _PKCS1)
                        for i in range(0, len(plain), RSA_PLAIN_PIECE))

    def decrypt(self, sealed: bytes) -> bytes:
        """ValueError when `sealed` is no whole number of blocks or a block is not ours.
        A wrong key may also decrypt to garbage (implicit rejection): check the SHA-1."""
        if not sealed or len(sealed) % RSA_BLOCK:
            raise ValueError(f"{len(sealed)} bytes is not a whole number of RSA blocks")
        decrypt = self._private.decrypt
        return b"".join(decrypt(sealed[i:i + RSA_BLOCK], _PKCS1)
                        for i in range(0, len(sealed), RSA_BLOCK))


def load_rsa_key(path: str | Path) -> RsaKey:
    """Read and check a key file; KeyFileError (one line) when it cannot serve OpenD."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"RSA key file {name} does not exist") from None
    except IsADirectoryError:
        raise KeyFileError(f"RSA key file {name} is a directory") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read RSA key file {name}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(f"RSA key file {name} is protected by a passphrase; "
                           "OpenD needs an unprotected key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(f"RSA key file {name} holds no PEM private key "
                           "(expected -----BEGIN RSA PRIVATE KEY-----)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFileError(f"RSA key file {name} holds a non-RSA key")
    if key.key_size != KEY_BITS:
        raise KeyFileError(f"RSA key file {name} holds a {key.key_size}-bit key; "
                           f"OpenD needs {KEY_BITS} bits")
    return RsaKey(name, key)


class AesCbc:
    """AES-128-CBC restarted from the same IV for every body, PKCS#7 padded."""

    __slots__ = ("_algorithm", "_mode", "_iv", "_decrypt")

    def __init__(self, key: bytes, iv: bytes) -> None:
        self._algorithm = algorithms.AES(key)
        self._mode = modes.CBC(iv)
        self._iv = iv
        # One long-lived decryption context instead of a new one per body (a new context
        # costs ~15x the decryption of a typical push): CBC decrypts a block from itself
        # and the ciphertext block before it, so feeding the IV as a block ahead of each
        # body restarts the chain from the IV; that lead block's output is dropped.
        self._decrypt = Cipher(self._algorithm, self._mode).decryptor().update

    def encrypt(self, plain: bytes) -> bytes:
        pad = AES_BLOCK - len(plain) % AES_BLOCK
        encryptor = Cipher(self._algorithm, self._mode).encryptor()
        return encryptor.update(plain + bytes((pad,)) * pad) + encryptor.finalize()

    def decrypt(self, sealed: bytes) -> bytes:
        if not sealed or len(sealed) % AES_BLOCK:
            raise ValueError(f"{len(sealed)} bytes is not a whole number of AES blocks")
        plain = self._decrypt(self._iv + sealed)[AES_BLOCK:]  # whole blocks: nothing buffered
        pad = plain[-1]
        if not 1 <= pad <= AES_BLOCK:
            raise ValueError("bad AES padding")
        return plain[:-pad]


class FtAesEcb:
    """Futu's AES-128-ECB variant: zero padding, then a 16-byte trailer whose last byte
    is the plain length mod 16 (0: no padding was added)."""

    __slots__ = ("_encrypt", "_decrypt")

    def __init__(self, key: bytes) -> None:
        cipher = Cipher(algorithms.AES(key), modes.ECB())
        # ECB keeps no state between blocks, so one context serves every body
        self._encrypt = cipher.encryptor().update
        self._decrypt = cipher.decryptor().update

    def encrypt(self, plain: bytes) -> bytes:
        tail = len(plain) % AES_BLOCK
        if tail:
            plain += bytes(AES_BLOCK - tail)
        return self._encrypt(plain) + bytes(AES_BLOCK - 1) + bytes((tail,))

    def decrypt(self, sealed: bytes) -> bytes:
        if len(sealed) < AES_BLOCK or len(sealed) % AES_BLOCK:
            raise ValueError(f"{len(sealed)} bytes is not a whole number of AES blocks")
        tail = sealed[-1]
        if tail >= AES_BLOCK:
            raise ValueError("bad FTAES trailer")
        plain = self._decrypt(sealed[:-AES_BLOCK])
        if tail:
            if not plain:
                raise ValueError("bad FTAES trailer")
            plain = plain[:len(plain) - (AES_BLOCK - tail)]
        return plain


def session_aes(key_text: str, iv_text: str | None) -> AesCbc | FtAesEcb:
    """The AES of a connection from InitConnect's connAESKey / aesCBCiv strings (their
    UTF-8 bytes are the key and IV, as the SDK uses them). ValueError when unusable."""
    key = key_text.encode()
    if len(key) != AES_BLOCK:
        raise ValueError(f"connAESKey of {len(key)} bytes (expected {AES_BLOCK})")
    if iv_text is None:
        return FtAesEcb(key)
    iv = iv_text.encode()
    if len(iv) != AES_BLOCK:
        raise ValueError(f"aesCBCiv of {len(iv)} bytes (expected {AES_BLOCK})")
    return AesCbc(key, iv)


class SessionCipher:
    """One connection's body encryption, the same on both ends: RSA for InitConnect
    (protocol 1001), the connection's AES for everything else once it is known."""

    __slots__ = ("rsa", "aes", "init_proto", "hold")

    def __init__(self, key: RsaKey, init_proto: int = 1001, hold: bool = False) -> None:
        self.rsa = key
        self.aes: AesCbc | FtAesEcb | None = None
        self.init_proto = init_proto
        # A client between sending InitConnect and reading its reply's AES key: frames
        # after the reply wait undecrypted in the buffer until the key is installed.
        self.hold = hold

    def install(self, aes: AesCbc | FtAesEcb | None) -> None:
        """The connection's AES from the InitConnect reply (None: bodies stay plain)."""
        self.aes = aes
        self.hold = False

    def seal(self, proto_id: int, plain: bytes) -> bytes:
        if proto_id == self.init_proto:
            return self.rsa.encrypt(plain)
        aes = self.aes
        return plain if aes is None else aes.encrypt(plain)

    def open(self, proto_id: int, sealed: bytes) -> bytes:
        """The plain body; ValueError when it does not decrypt."""
        if proto_id == self.init_proto:
            return self.rsa.decrypt(sealed)
        aes = self.aes
        return sealed if aes is None else aes.decrypt(sealed)
