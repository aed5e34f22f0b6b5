# -*- test-case-name: tests.api.openstack.test_v10 -*-
"""
XML for the OpenStack API v1.0 (namespace L{V10_NAMESPACE}), in both
directions, in the shapes Cactus used:

  - scalars of a document become attributes of its element
    (C{<server id="1" name="web" status="ACTIVE">});
  - lists become one child per item, named by L{SINGULAR}
    (C{<servers><server .../></servers>});
  - C{metadata} becomes C{<metadata><meta key="k">v</meta></metadata>};
  - C{addresses} becomes C{<addresses><public><ip addr="..."/></public>
    <private>...</private></addresses>};
  - the C{absolute} limits become C{<limit name="..." value="..."/>};
  - faults become C{<itemNotFound code="404"><message>...</message>
    <details>...</details></itemNotFound>}.

Request bodies are parsed back into the JSON shapes the handlers take
(C{<server name="web" imageId="..." flavorId="1">} is
C{{"server": {"name": "web", ...}}}); a document type declaration or an
entity is refused, so that no entity expansion can happen.
"""

from xml.etree import ElementTree

V10_NAMESPACE = "http://docs.rackspacecloud.com/servers/api/v1.0"

#: The element name of each list's items.
SINGULAR = {
    "servers": "server",
    "images": "image",
    "flavors": "flavor",
    "rate": "limit",
    "users": "user",
    "accounts": "account",
    "public": "ip",
    "private": "ip",
    "links": "link",
    "versions": "version",
    "extensions": "extension",
}

#: The fault document keys that are child elements, not attributes.
_FAULT_TEXT = ("message", "details")


class MalformedXML(ValueError):
    """
    A request body is not the XML this API takes.
    """


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element, value):
    """
    Put the content of C{value} (a L{dict}) into C{element}.
    """
    for key, item in value.items():
        if item is None:
            continue
        if key == "metadata" and isinstance(item, dict):
            child = ElementTree.SubElement(element, "metadata")
            for metaKey, metaValue in item.items():
                meta = ElementTree.SubElement(child, "meta", {"key": _text(metaKey)})
                meta.text = _text(metaValue)
        elif key == "addresses" and isinstance(item, dict):
            child = ElementTree.SubElement(element, "addresses")
            for network, addresses in item.items():
                group = ElementTree.SubElement(child, network)
                for address in addresses:
                    ElementTree.SubElement(group, "ip", {"addr": _text(address)})
        elif key == "absolute" and isinstance(item, dict):
            child = ElementTree.SubElement(element, "absolute")
            for name, limit in item.items():
                ElementTree.SubElement(child, "limit", {"name": name, "value": _text(limit)})
        elif isinstance(item, dict):
            _fill(ElementTree.SubElement(element, key), item)
        elif isinstance(item, list):
            child = ElementTree.SubElement(element, key)
            singular = SINGULAR.get(key, "item")
            for entry in item:
                sub = ElementTree.SubElement(child, singular)
                if isinstance(entry, dict):
                    _fill(sub, entry)
                else:
                    sub.text = _text(entry)
        else:
            element.set(key, _text(item))


def toXML(document, namespace=V10_NAMESPACE):
    """
    @param document: a JSON document with one key (C{{"server": {...}}}).
    @return: the XML of it (L{bytes}, UTF-8, with a declaration).
    """
    [(name, value)] = document.items()
    root = ElementTree.Element(name, {"xmlns": namespace})
    if name == "addresses" and isinstance(value, dict):
        # GET /servers/{id}/ips: the networks straight under the root.
        for network, addresses in value.items():
            group = ElementTree.SubElement(root, network)
            for address in addresses:
                ElementTree.SubElement(group, "ip", {"addr": _text(address)})
    elif name in ("public", "private") and isinstance(value, list):
        for address in value:
            ElementTree.SubElement(root, "ip", {"addr": _text(address)})
    elif isinstance(value, list):
        singular = SINGULAR.get(name, "item")
        for entry in value:
            sub = ElementTree.SubElement(root, singular)
            if isinstance(entry, dict):
                _fill(sub, entry)
            else:
                sub.text = _text(entry)
    elif isinstance(value, dict):
        if "code" in value and "message" in value:
            # A fault: the code is an attribute, the texts are elements.
            root.set("code", _text(value["code"]))
            for key in _FAULT_TEXT:
                if value.get(key) is not None:
                    ElementTree.SubElement(root, key).text = _text(value[key])
        else:
            _fill(root, value)
    else:
        root.text = _text(value)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root)


def _local(tag):
    return tag.rpartition("}")[2]


def _parse(element):
    name = _local(element.tag)
    if name == "metadata":
        return {
            meta.get("key"): (meta.text or "")
            for meta in element
            if _local(meta.tag) == "meta" and meta.get("key") is not None
        }
    if name == "personality":
        return [
            {"path": item.get("path"), "contents": (item.text or "").strip()}
            for item in element
            if _local(item.tag) == "file"
        ]
    value = dict(element.attrib)
    value.pop("xmlns", None)
    for child in element:
        value[_local(child.tag)] = _parse(child)
    if not value and element.text and element.text.strip():
        return element.text.strip()
    return value


def fromXML(data):
    """
    @param data: an XML request body (L{bytes}).
    @return: its JSON shape: C{{root name: attributes and children}}.
    @raise MalformedXML: if it is not well-formed, or declares a document
        type or entities.
    """
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise MalformedXML("document type declarations are not accepted")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as e:
        raise MalformedXML(str(e)) from None
    return {_local(root.tag): _parse(root)}
