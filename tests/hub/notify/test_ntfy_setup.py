"""A new ntfy topic: long and random, its addresses on a public or a self-hosted server,
and the notify.ntfy_server setting's checks."""

from __future__ import annotations

import re

import pytest
import zxingcpp
from PIL import Image
from pydantic import ValidationError

from hub.config import NotifySettings
from hub.notify.ntfy_setup import NtfyTopic, qr_svg


def test_a_new_topic_is_long_random_and_allowed_by_ntfy() -> None:
    topics = {NtfyTopic.new("https://ntfy.sh").topic for _ in range(50)}
    assert len(topics) == 50
    for topic in topics:
        secret = topic.removeprefix("nursery-")
        assert len(secret) >= 32  # 24 bytes: 192 bits
        assert all(c.isascii() and (c.isalnum() or c in "-_") for c in topic)


def test_addresses_on_the_public_server() -> None:
    topic = NtfyTopic("https://ntfy.sh", "nursery-abc")
    assert topic.apprise_url == "ntfys://ntfy.sh/nursery-abc"
    assert topic.subscribe_url == "https://ntfy.sh/nursery-abc"
    assert topic.app_link == "ntfy://ntfy.sh/nursery-abc"
    assert NtfyTopic.from_apprise_url(topic.apprise_url) == topic


def test_addresses_on_a_self_hosted_http_server() -> None:
    topic = NtfyTopic("http://ntfy.home:8080", "nursery-abc")
    assert topic.apprise_url == "ntfy://ntfy.home:8080/nursery-abc"
    assert topic.subscribe_url == "http://ntfy.home:8080/nursery-abc"
    assert topic.app_link == "ntfy://ntfy.home:8080/nursery-abc?secure=false"
    assert NtfyTopic.from_apprise_url(topic.apprise_url) == topic
    assert NtfyTopic.from_apprise_url("ntfys://user:pw@ntfy.sh/t") is None
    assert NtfyTopic.from_apprise_url("pover://user@token") is None


def svg_modules(svg: str) -> Image.Image:
    """The dark modules of the SVG's path (segno's `M x y.5 h n m dx dy …` lines), drawn
    8 pixels a module: the picture a camera would see."""
    size = int(re.search(r'<path fill="#fff" d="M0 0h(\d+)', svg).group(1))  # type: ignore[union-attr]
    path = re.search(r'<path stroke="#000" d="([^"]+)"', svg).group(1)  # type: ignore[union-attr]
    image = Image.new("L", (size * 8, size * 8), 255)
    x = y = 0.0
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            for column in range(int(x), int(x + float(a))):
                image.paste(0, (column * 8, int(y) * 8, column * 8 + 8, int(y) * 8 + 8))
            x += float(a)
    return image


def test_the_qr_code_is_svg_drawn_here_and_reads_back() -> None:
    svg = qr_svg("https://ntfy.sh/nursery-abc")
    assert svg.startswith("<svg") and "<script" not in svg
    (code,) = zxingcpp.read_barcodes(svg_modules(svg))
    assert code.text == "https://ntfy.sh/nursery-abc"


@pytest.mark.parametrize(
    ("server", "expected"),
    [("https://ntfy.sh", "https://ntfy.sh"), ("http://ntfy.home:8080/", "http://ntfy.home:8080")],
)
def test_ntfy_server_takes_a_server_address(server: str, expected: str) -> None:
    assert NotifySettings(ntfy_server=server).ntfy_server == expected


@pytest.mark.parametrize("server", ["ntfy.sh", "ftp://ntfy.sh", "https://ntfy.sh/mytopic"])
def test_ntfy_server_refuses_anything_else(server: str) -> None:
    with pytest.raises(ValidationError, match="ntfy_server"):
        NotifySettings(ntfy_server=server)
