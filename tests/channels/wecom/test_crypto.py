"""The callback crypto: Tencent's known answers, round trips with wechatpy both ways, strict refusals."""

from __future__ import annotations

import base64
import random
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.work.crypto import WeChatCrypto
from wechatpy.work.exceptions import InvalidCorpIdException

from bot.channels.wecom.crypto import (
    DecryptError,
    KeyFormatError,
    ReceiveIdError,
    SignatureError,
    WeComCrypto,
    pkcs7_pad,
)
from bot.channels.wecom.xml import parse
from tests.channels.wecom.support import AES_KEY, TOKEN
from tests.fakes.wecom_api import CORP_ID

# callback/Sample.py @27220fbe9d5251d46101e33751568eae9f413666 (sbzhu/weworkapi_python)
ECHO = dict(msg_signature="012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", timestamp="1476416373", nonce="47744683",
            echostr="fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==")
POST = dict(
    msg_signature="0c3914025cb4b4d68103f6bfc8db550f79dcf48e", timestamp="1476422779", nonce="1597212914",
    encrypt="Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2"
            "AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8"
            "KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQ"
            "DCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+",
)
POST_PLAIN = ("<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
              "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
              "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>")


@pytest.fixture()
def ours() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID)


def test_tencent_url_verification_vector(ours: WeComCrypto) -> None:
    assert ours.verify_url(**ECHO) == "1288432023552776189"


def test_tencent_message_vector(ours: WeComCrypto) -> None:
    plain = ours.decrypt_message(**POST)
    assert plain.decode() == POST_PLAIN
    assert parse(plain)["Content"] == "你好"


def _payload(rng: random.Random, n: int) -> str:
    """A string of exactly n UTF-8 bytes mixing ASCII and Chinese."""
    chars: list[str] = []
    size = 0
    while size < n:
        ch = rng.choice("值班保安事件") if n - size >= 3 and rng.random() < 0.4 else rng.choice("abc<>&]] 01")
        chars.append(ch)
        size += len(ch.encode())
    return "".join(chars)


@pytest.mark.parametrize("receive_id", [CORP_ID, ""])
def test_round_trips_with_wechatpy_both_ways(receive_id: str) -> None:
    ours = WeComCrypto(TOKEN, AES_KEY, receive_id)
    peer = WeChatCrypto(TOKEN, AES_KEY, receive_id)
    rng = random.Random(7)
    for n in range(0, 201):
        text = _payload(rng, n)
        assert len(text.encode()) == n
        # ours → wechatpy
        encrypt = ours.encrypt(text.encode())
        signature = ours.sign("1700000000", "nonce1", encrypt)
        assert peer.decrypt_message({"Encrypt": encrypt}, signature, "1700000000", "nonce1") == text
        # wechatpy → ours
        reply = parse(peer.encrypt_message(text, "nonce2", "1700000001"))
        assert ours.decrypt_message(reply["MsgSignature"], reply["TimeStamp"], reply["Nonce"],
                                    reply["Encrypt"]) == text.encode()


def test_url_verification_with_wechatpy(ours: WeComCrypto) -> None:
    echostr = ours.encrypt(b"9876543210")
    signature = ours.sign("1", "2", echostr)
    assert WeChatCrypto(TOKEN, AES_KEY, CORP_ID).check_signature(signature, "1", "2", echostr) == "9876543210"


def test_random_prefix_differs_each_time(ours: WeComCrypto) -> None:
    assert ours.encrypt(b"x") != ours.encrypt(b"x")


def _raw_cipher(plain: bytes) -> str:
    """Encrypt an arbitrary (already padded or deliberately broken) plaintext with the sample key."""
    key = base64.b64decode(AES_KEY + "=")
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def test_bad_signature_and_wrong_corp_id(ours: WeComCrypto) -> None:
    with pytest.raises(SignatureError):
        ours.verify_url(**{**ECHO, "msg_signature": "0" * 40})
    with pytest.raises(SignatureError):
        ours.decrypt_message(**{**POST, "nonce": "1597212915"})
    other = WeComCrypto(TOKEN, AES_KEY, "ww0000000000000000")
    with pytest.raises(ReceiveIdError):
        other.decrypt_message(**POST)
    # The peer agrees on both.
    peer = WeChatCrypto(TOKEN, AES_KEY, "ww0000000000000000")
    with pytest.raises(InvalidCorpIdException):
        peer.check_signature(**dict(zip(("signature", "timestamp", "nonce", "echo_str"), ECHO.values(), strict=True)))
    with pytest.raises(InvalidSignatureException):
        peer.check_signature("0" * 40, ECHO["timestamp"], ECHO["nonce"], ECHO["echostr"])


def test_padding_and_length_are_checked(ours: WeComCrypto) -> None:
    body = b"R" * 16 + struct.pack(">I", 5) + b"hello" + CORP_ID.encode()
    assert ours.decrypt(_raw_cipher(pkcs7_pad(body))) == b"hello"
    padded = pkcs7_pad(body)
    pad = padded[-1]
    with pytest.raises(DecryptError):  # pad byte 0
        ours.decrypt(_raw_cipher(padded[:-1] + b"\x00"))
    aligned = body + b"\x00" * (32 - len(body) % 32)
    with pytest.raises(DecryptError):  # pad byte 33 (> 32)
        ours.decrypt(_raw_cipher(aligned[:-1] + bytes([33])))
    with pytest.raises(DecryptError):  # inconsistent pad bytes
        ours.decrypt(_raw_cipher(padded[:-2] + bytes([pad - 1 if pad > 1 else 7, pad])))
    long_n = b"R" * 16 + struct.pack(">I", 10_000) + b"hello" + CORP_ID.encode()
    with pytest.raises(DecryptError):  # n beyond the body
        ours.decrypt(_raw_cipher(pkcs7_pad(long_n)))
    with pytest.raises(DecryptError):
        ours.decrypt("not base64 at all!")
    with pytest.raises(DecryptError):
        ours.decrypt(base64.b64encode(b"x" * 20).decode())  # not block-aligned


def test_tampered_ciphertext_is_refused(ours: WeComCrypto) -> None:
    raw = bytearray(base64.b64decode(POST["encrypt"]))
    for i in (0, 40, len(raw) - 17, len(raw) - 1):
        tampered = bytearray(raw)
        tampered[i] ^= 0x01
        text = base64.b64encode(bytes(tampered)).decode()
        # The signature covers the ciphertext: any change is refused before decrypting.
        with pytest.raises(SignatureError):
            ours.decrypt_message(**{**POST, "encrypt": text})
        if i != 40:  # CBC has no MAC: a flip mid-message only garbles text; length, pad and id are checked
            with pytest.raises((DecryptError, ReceiveIdError)):
                ours.decrypt(text)


@pytest.mark.parametrize("key", [AES_KEY[:42], AES_KEY + "A", AES_KEY[:42] + "=", ""])
def test_key_must_be_43_letters_and_digits(key: str) -> None:
    with pytest.raises(KeyFormatError):
        WeComCrypto(TOKEN, key, CORP_ID)
