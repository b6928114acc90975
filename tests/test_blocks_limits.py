"""The Block Kit renderer never emits a section over 3,000 characters, a message over 50 blocks or a
Home over 100 blocks, and says what did not fit instead of dropping it silently."""

from __future__ import annotations

from bot.slack.blocks import MAX_BLOCKS, MAX_SECTION, MAX_VIEW_BLOCKS, home_view, message_blocks
from workflows.kernel.ui import Button, HomeView, Message


def section_texts(blocks: list[dict]) -> list[str]:  # type: ignore[type-arg]
    texts = []
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            texts.append(block["text"]["text"])
        for field in block.get("fields", ()):
            texts.append(field["text"])
        for element in block.get("elements", ()):
            if element.get("type") == "mrkdwn":
                texts.append(element["text"])
    return texts


def test_a_message_of_ten_thousand_lines_fits_and_says_how_much_did_not():
    lines = [f"EV-{n} Review the risks you own (RA, 2026-Q4): due soon, open" for n in range(10_000)]
    message = Message(
        text="10,000 evidence requests",
        body="\n".join(lines),
        fields=(("Open", "10,000"),),
        buttons=(Button("evidence.more", "More", "all:20"),),
        footer="Showing 1–10,000 of 10,000.",
    )
    blocks = message_blocks(message)
    assert len(blocks) == MAX_BLOCKS
    texts = section_texts(blocks)
    assert all(len(text) <= MAX_SECTION for text in texts)
    note = next(text for text in texts if "more lines that do not fit in one Slack message" in text)
    shown = sum(text.count("EV-") for text in texts)
    hidden = int(note.split()[2].replace(",", ""))
    assert shown + hidden == 10_000
    assert blocks[-2]["type"] == "actions" and blocks[-1]["type"] == "context"


def test_a_body_is_split_between_lines_into_sections_in_order():
    body = "\n".join(f"line {n} " + "y" * 90 for n in range(100))
    blocks = message_blocks(Message(text="t", body=body))
    texts = section_texts(blocks)[1:]
    assert len(texts) > 1 and all(len(text) <= MAX_SECTION for text in texts)
    assert "\n".join(texts) == body


def test_long_user_text_is_cut_after_escaping_and_stays_escaped():
    hostile = "<!channel> & <@U123> " * 400  # 8,400 characters, longer still once escaped
    blocks = message_blocks(Message(text=hostile, body=hostile + "\n" + "z" * 7000, footer=hostile))
    texts = section_texts(blocks)
    assert all(len(text) <= MAX_SECTION for text in texts)
    assert all("<!channel>" not in text and "<@U123>" not in text for text in texts)
    assert all(not text.endswith(("&amp", "&lt", "&g", "&")) for text in texts[:1])
    assert sum(text.count("z") for text in texts) == 7000  # one long line split, nothing lost


def test_the_home_stays_within_a_hundred_blocks():
    sections = tuple(
        Message(text=f"Request {n}", body="details", buttons=(Button("evidence.submit", "Submit", str(n)),))
        for n in range(200)
    )
    view = home_view(HomeView(title="ISMS", sections=sections))
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    assert "more items do not fit here" in view["blocks"][-1]["elements"][0]["text"]
