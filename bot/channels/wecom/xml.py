"""WeCom's XML: parsed with defusedxml (the body is attacker-controlled until the signature is
checked), flattened to a dict of field → text; and the encrypted envelope, built for replies/tests."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

MAX_BYTES = 256 * 1024  # a callback is a few KB; anything bigger is not WeCom


class XmlError(Exception):
    pass


def parse(data: bytes | str) -> dict[str, str]:
    """`<xml><A>1</A><B><C>2</C></B></xml>` → {"A": "1", "C": "2"}: top-level fields, and the fields of
    nested blocks (SendLocationInfo, ScanCodeInfo) where a top-level one has not the same name."""
    if len(data) > MAX_BYTES:
        raise XmlError("too large")
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, TypeError) as err:
        raise XmlError(type(err).__name__) from err
    if root.tag != "xml":
        raise XmlError("root is not <xml>")
    fields: dict[str, str] = {}
    nested: list[Element] = []
    for child in root:
        if len(child):
            nested.append(child)
        fields[child.tag] = (child.text or "").strip() if not len(child) else ""
    for block in nested:
        for item in block.iter():
            if item is not block and not len(item):
                fields.setdefault(item.tag, (item.text or "").strip())
    return fields


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside CDATA; escaped text is equivalent XML.
    return escape(text) if "]]>" in text else f"<![CDATA[{text}]]>"


def envelope(to_user: str, encrypt: str, agent_id: str = "") -> str:
    """The POST body WeCom sends: ToUserName, Encrypt, AgentID."""
    return (f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><Encrypt>{_cdata(encrypt)}</Encrypt>"
            f"<AgentID>{_cdata(agent_id)}</AgentID></xml>")


def reply_envelope(encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> str:
    """An encrypted passive reply (not used: dutybot answers 200 at once and replies via the API)."""
    return (f"<xml><Encrypt>{_cdata(encrypt)}</Encrypt><MsgSignature>{_cdata(msg_signature)}</MsgSignature>"
            f"<TimeStamp>{escape(timestamp)}</TimeStamp><Nonce>{_cdata(nonce)}</Nonce></xml>")


def message(fields: dict[str, str]) -> str:
    """A plaintext message XML from fields (tests and the benchmark build callbacks with it)."""
    return "<xml>" + "".join(f"<{k}>{_cdata(v)}</{k}>" for k, v in fields.items()) + "</xml>"
