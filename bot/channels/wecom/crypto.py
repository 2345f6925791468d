"""WeCom callback crypto (加解密方案): SHA-1 signature, AES-256-CBC with PKCS#7 to 32-byte blocks.

Plaintext layout: random(16) || uint32_be(len(msg)) || msg || receive_id. The key is the 43-character
EncodingAESKey plus "=", base64-decoded to 32 bytes; the IV is its first 16 bytes. Own implementation
on `cryptography` (strict padding and length checks, constant-time comparisons, CSPRNG prefix);
checked against Tencent's published vectors and wechatpy in the tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16
_KEY_CHARS = re.compile(r"^[A-Za-z0-9]{43}$")


class CryptoError(Exception):
    """A callback that must be refused (the message says why, for the log; never the key)."""


class SignatureError(CryptoError):
    pass


class DecryptError(CryptoError):
    """Not base64, not block-aligned, bad padding or a length field beyond the body."""


class ReceiveIdError(CryptoError):
    """Decrypted fine, but meant for another corp (or app suite)."""


class KeyFormatError(CryptoError):
    pass


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the admin console's 43-character EncodingAESKey."""
    if not _KEY_CHARS.match(encoding_aes_key):
        raise KeyFormatError("EncodingAESKey must be 43 letters and digits")
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:  # cannot happen for 43 base64 chars, kept as a guard
        raise KeyFormatError("EncodingAESKey does not decode to 32 bytes")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """sha1 over the four strings sorted and concatenated (lowercase hex)."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()


def pkcs7_pad(data: bytes) -> bytes:
    pad = BLOCK - len(data) % BLOCK
    return data + bytes([pad]) * pad


def pkcs7_unpad(data: bytes) -> bytes:
    if not data:
        raise DecryptError("empty plaintext")
    pad = data[-1]
    if not 1 <= pad <= BLOCK or pad > len(data):
        raise DecryptError("bad padding")
    if not hmac.compare_digest(data[-pad:], bytes([pad]) * pad):
        raise DecryptError("bad padding")
    return data[:-pad]


class WeComCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str):
        self.token = token
        self.key = aes_key(encoding_aes_key)
        self.receive_id = receive_id.encode("utf-8")

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def check_signature(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), msg_signature.strip().lower().encode()):
            raise SignatureError("signature mismatch")

    def encrypt(self, msg: bytes, *, prefix: bytes | None = None) -> str:
        """base64(AES-CBC(random || len || msg || receive_id)); `prefix` only for known-answer tests."""
        prefix = os.urandom(16) if prefix is None else prefix
        if len(prefix) != 16:
            raise ValueError("prefix must be 16 bytes")
        plain = pkcs7_pad(prefix + struct.pack(">I", len(msg)) + msg + self.receive_id)
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypt: str) -> bytes:
        """The message inside `encrypt`; raises DecryptError or ReceiveIdError."""
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as err:
            raise DecryptError("not base64") from err
        if not raw or len(raw) % 16:
            raise DecryptError("ciphertext is not block-aligned")
        decryptor = self._cipher().decryptor()
        body = pkcs7_unpad(decryptor.update(raw) + decryptor.finalize())
        if len(body) < 20:
            raise DecryptError("plaintext too short")
        (n,) = struct.unpack(">I", body[16:20])
        if n > len(body) - 20:
            raise DecryptError("length field beyond the body")
        msg, receive_id = body[20:20 + n], body[20 + n:]
        if not hmac.compare_digest(receive_id, self.receive_id):
            raise ReceiveIdError("receive id does not match WECOM_CORP_ID")
        return msg

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """URL verification (GET): the decrypted echostr to answer with."""
        self.check_signature(msg_signature, timestamp, nonce, echostr)
        try:
            return self.decrypt(echostr).decode("utf-8")
        except UnicodeDecodeError as err:
            raise DecryptError("echostr is not UTF-8") from err

    def decrypt_message(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> bytes:
        """A pushed message (POST): signature over <Encrypt>, then its plaintext XML."""
        self.check_signature(msg_signature, timestamp, nonce, encrypt)
        return self.decrypt(encrypt)

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self.token, timestamp, nonce, encrypt)
