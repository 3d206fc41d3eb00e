"""split_quoted / split_quoted_html: a reply's new content and its quoted history (hostile
inputs 23 and 24), and the law that nothing is ever lost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sportello.mail.quotes import split_quoted, split_quoted_html

GMAIL = """\
Thanks, that fixed it.

On Mon, Nov 2, 2026 at 10:15 AM Shop Support <support@shop.example> wrote:

> Please restart the router.
>
> Bruno
"""


def test_gmail_attribution_and_quote_are_history() -> None:
    assert split_quoted(GMAIL) == (
        "Thanks, that fixed it.",
        "On Mon, Nov 2, 2026 at 10:15 AM Shop Support <support@shop.example> wrote:\n\n"
        "> Please restart the router.\n>\n> Bruno",
    )


@pytest.mark.parametrize(
    "attribution",
    [
        "On 2 Nov 2026, at 10:15, Shop Support <support@shop.example> wrote:",  # Apple Mail
        "On 02/11/2026 10:15, Shop Support wrote:",  # Thunderbird
        "El lun, 2 nov 2026 a las 10:15, Shop Support (<support@shop.example>) escribió:",
        "Il giorno lun 2 nov 2026 alle ore 10:15 Shop Support <support@shop.example> ha scritto:",
        "Le lun. 2 nov. 2026 à 10:15, Shop Support <support@shop.example> a écrit :",
        "Am Mo., 2. Nov. 2026 um 10:15 Uhr schrieb Shop Support <support@shop.example>:",
        "02.11.2026 10:15, Shop Support <support@shop.example>:",  # Yandex
    ],
)
def test_attributions_in_several_languages(attribution: str) -> None:
    text = f"Grazie mille!\n\n{attribution}\n> Riavvii il router.\n"
    assert split_quoted(text) == ("Grazie mille!", f"{attribution}\n> Riavvii il router.")


def test_attribution_wrapped_over_two_lines() -> None:
    text = "Done.\n\nOn Mon, Nov 2, 2026 at 10:15 AM Shop Support <\nsupport@shop.example> wrote:\n\n> Hi\n"
    assert split_quoted(text) == (
        "Done.",
        "On Mon, Nov 2, 2026 at 10:15 AM Shop Support <\nsupport@shop.example> wrote:\n\n> Hi",
    )


def test_signature_stays_in_the_new_content() -> None:
    text = (
        "Yes please.\n\nSent from my iPhone\n\n"
        "On 2 Nov 2026, at 10:15, Shop <s@shop.example> wrote:\n\n> Shall we?\n"
    )
    assert split_quoted(text) == (
        "Yes please.\n\nSent from my iPhone",
        "On 2 Nov 2026, at 10:15, Shop <s@shop.example> wrote:\n\n> Shall we?",
    )


def test_outlook_original_message() -> None:
    text = (
        "Approved.\n\n-----Original Message-----\n"
        "From: Shop\nSent: Monday\nTo: Ana\nSubject: Quote\n\nPrice: 10\n"
    )
    assert split_quoted(text) == (
        "Approved.",
        "-----Original Message-----\nFrom: Shop\nSent: Monday\nTo: Ana\nSubject: Quote\n\nPrice: 10",
    )


@pytest.mark.parametrize(
    "block",
    [
        "From: Shop Support [mailto:support@shop.example]\nSent: Monday, November 2, 2026 10:15 AM\n"
        "To: Ana\nSubject: RE: Quote",
        "De: Shop Support <support@shop.example>\nEnviado el: lunes, 2 de noviembre de 2026 10:15\n"
        "Para: Ana\nAsunto: RE: Presupuesto",
        "Da: Shop Support <support@shop.example>\nInviato: lunedì 2 novembre 2026 10:15\n"
        "A: Ana\nOggetto: R: Preventivo",
        "*From:* Shop Support <support@shop.example>\n*Date:* Mon, 2 Nov 2026\n*Subject:* Quote\n*To:* Ana",
    ],
)
def test_outlook_header_blocks(block: str) -> None:
    text = f"Approved, go ahead.\n\n{block}\n\nPrice: 10 EUR\n"
    assert split_quoted(text) == ("Approved, go ahead.", f"{block}\n\nPrice: 10 EUR")


def test_outlook_rule_before_the_header_block_is_history_too() -> None:
    text = (
        "Approved.\n\n________________________________\n"
        "From: Shop <support@shop.example>\nSent: Monday\nTo: Ana\nSubject: Quote\n\nPrice: 10\n"
    )
    new, quoted = split_quoted(text)
    assert new == "Approved."
    assert quoted.startswith("________________________________\nFrom: Shop")


def test_trailing_quoted_block() -> None:
    assert split_quoted("Fine by me.\n\n> Shall we ship on Monday?\n> Bruno\n") == (
        "Fine by me.",
        "> Shall we ship on Monday?\n> Bruno",
    )


def test_reply_written_under_the_quote() -> None:
    text = "On 02/11/2026 10:15, Shop Support wrote:\n> Shall we ship?\n\nYes, on Monday.\n"
    assert split_quoted(text) == (
        "Yes, on Monday.",
        "On 02/11/2026 10:15, Shop Support wrote:\n> Shall we ship?",
    )


def test_inline_answers_are_not_cut() -> None:
    text = (
        "On 02/11/2026 10:15, Shop Support wrote:\n> Which model?\nThe X200.\n> Since when?\nSince Friday.\n"
    )
    assert split_quoted(text) == (text, "")


def test_nothing_new_keeps_the_whole_text() -> None:  # 23
    text = "On 02/11/2026 10:15, Shop Support wrote:\n> Which model?\n"
    assert split_quoted(text) == (text, "")
    assert split_quoted("> only a quote\n") == ("> only a quote\n", "")
    assert split_quoted("   \n") == ("   \n", "")


@pytest.mark.parametrize(
    "text",
    [  # 24: only recognised separators cut, never the customer's own words
        "-- Reply above this line --\nIt still fails.\nOn 3 Nov I wrote: the order is late.\nPlease check.\n",
        "Hi,\nI need to change my booking:\nFrom: Rome\nTo: Milan\nDate: 3 November\nThanks\n",
        "-----Original\nMessage-----\nmy printer is still broken\n",
        "I wrote: see the photo\nand the invoice\n",
        "Line one\n> a quote in the middle\nline three\n",
    ],
)
def test_customer_text_is_not_cut(text: str) -> None:
    assert split_quoted(text) == (text, "")


def test_crlf_text_is_split() -> None:
    assert split_quoted("New.\r\n\r\n> old\r\n") == ("New.", "> old")


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            [
                "hello",
                "",
                "> quoted",
                ">",
                "On 2 Nov 2026, Bob <b@x> wrote:",
                "-----Original Message-----",
                "From: Bob <b@x>",
                "Sent: Monday",
                "To: Ana",
                "Subject: Re",
                "____________",
                "Sent from my iPhone",
                "wrote:",
                "El 2 nov 2026, Ana escribió:",
                "   ",
                "a\r",
                "\u2028",
            ]
        ),
        max_size=25,
    ).map("\n".join)
)
def test_nothing_is_ever_lost(text: str) -> None:
    new, quoted = split_quoted(text)
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.strip():
            assert line in new or line in quoted
    assert new.strip() or not text.strip()
    if not quoted:
        assert new == text


# --------------------------------------------------------------------------------------------
# HTML


NEW = "<div dir='ltr'>Thanks, it works.</div>"


@pytest.mark.parametrize(
    "history",
    [
        '<div class="gmail_quote"><div class="gmail_attr">On Mon … wrote:</div>'
        "<blockquote>q</blockquote></div>",
        '<div class="gmail_quote gmail_quote_container">q</div>',
        '<div class="moz-cite-prefix">On 02/11/2026 Shop wrote:<br></div>'
        '<blockquote type="cite">q</blockquote>',
        "<BLOCKQUOTE TYPE=CITE>q</BLOCKQUOTE>",
        "<blockquote type='cite' cite='mid:x'>q</blockquote>",
        '<div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> Shop</div>q',
        '<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Shop</div>q',
        '<hr id="stopSpelling">q',
        '<div class="yahoo_quoted" id="yahoo_quoted_123">q</div>',
    ],
)
def test_html_quote_containers(history: str) -> None:
    html = f"<html><body>{NEW}{history}</body></html>"
    assert split_quoted_html(html) == (f"<html><body>{NEW}", f"{history}</body></html>")


def test_html_without_new_content_is_kept_whole() -> None:
    html = '<html><body><br><div class="gmail_quote">q</div></body></html>'
    assert split_quoted_html(html) == (html, "")


@pytest.mark.parametrize(
    "html",
    [
        "<p>No quote here.</p><blockquote>a plain blockquote is the customer's</blockquote>",
        '<p title="<div class=gmail_quote>">attribute text is no container</p>',
        "<!-- <div class=gmail_quote> -->commented out",
        "<script>'<div class=\"gmail_quote\">'</script>script text",
    ],
)
def test_html_without_a_quote_container_is_not_cut(html: str) -> None:
    assert split_quoted_html(html) == (html, "")


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from(
            [
                "text",
                "<p>",
                "</p>",
                "<br>",
                '<div class="gmail_quote">',
                "</div>",
                "<blockquote type=cite>",
                "<script>",
                "</script>",
                "<!--",
                "-->",
                "<",
                ">",
                "'",
                '"',
                "&amp;",
                "<hr id=stopSpelling>",
            ]
        ),
        max_size=30,
    ).map("".join)
)
def test_html_split_loses_nothing(html: str) -> None:
    new, quoted = split_quoted_html(html)
    assert new + quoted == html
