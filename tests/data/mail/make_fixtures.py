#!/usr/bin/env python3
"""Writes the real-world-shaped messages of the mail capture tests.

Run it from anywhere; it rewrites the .eml files next to it. Headers are
encoded the way mail clients do (RFC 2047 encoded words in the sender's
charset, folded lines), so the tests read what a mail server delivers.
"""
import base64
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def b_word(text, charset):
    return "=?%s?B?%s?=" % (charset, base64.b64encode(text.encode(charset)).decode())


def q_word(text, charset):
    out = []
    for byte in text.encode(charset):
        c = chr(byte)
        if c == " ":
            out.append("_")
        elif c.isalnum() and byte < 128:
            out.append(c)
        else:
            out.append("=%02X" % byte)
    return "=?%s?Q?%s?=" % (charset, "".join(out))


def message(headers, body="Hello,\r\n\r\nI have a question about my order.\r\n"):
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode("utf-8")


FIXTURES = {
    # Apple Mail / Gmail style: UTF-8 Q and B encoded words.
    "utf8_encoded_words.eml": message([
        "Return-Path: <zoe@example.com>",
        "From: %s <zoe@example.com>" % q_word("Zoë Maïa", "utf-8"),
        "To: Support <support@example.com>",
        "Cc: %s <jurgen@example.de>" % b_word("Jürgen Groß", "utf-8"),
        "Subject: %s" % q_word("Où est ma commande ?", "utf-8"),
        "Date: Mon, 30 Nov 2026 10:00:00 +0100",
        "Message-ID: <utf8-1@mail.example.com>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]),
    # Outlook in a Spanish locale: ISO-8859-1 and "Last, First".
    "latin1_last_first.eml": message([
        "From: %s <jose@example.es>" % q_word("González, José", "iso-8859-1"),
        'To: "support@example.com" <support@example.com>',
        'Cc: "Doe, Jane" <jane.doe@example.com>',
        "Subject: Pedido",
        "Date: Mon, 30 Nov 2026 11:00:00 +0100",
        "Message-ID: <latin1-1@outlook.example>",
    ]),
    # A Japanese mobile mailer: Shift_JIS.
    "shift_jis.eml": message([
        "From: %s <taro@example.jp>" % b_word("山田 太郎", "shift_jis"),
        "To: support@example.com",
        "Subject: %s" % b_word("注文について", "shift_jis"),
        "Date: Mon, 30 Nov 2026 12:00:00 +0900",
        "Message-ID: <sjis-1@docomo.example>",
    ]),
    # Thunderbird in Japan: ISO-2022-JP (stateful, escape sequences).
    "iso_2022_jp.eml": message([
        "From: %s <hanako@example.jp>" % b_word("鈴木 花子", "iso-2022-jp"),
        "To: support@example.com",
        "Subject: %s" % b_word("お問い合わせ", "iso-2022-jp"),
        "Date: Mon, 30 Nov 2026 13:00:00 +0900",
        "Message-ID: <jis-1@example.jp>",
    ]),
    # Folded header lines and group syntax (with an empty group).
    "folded_groups.eml": message([
        "From: Project Lead\r\n <lead@example.org>",
        "To: Project Team: alice@example.org,\r\n \"Bob Smith\"\r\n\t<bob@example.org>;,\r\n support@example.com",
        "Cc: undisclosed-recipients:;",
        "Subject: A subject that is long enough to be folded over two lines by\r\n the sender's client",
        "Date: Mon, 30 Nov 2026 14:00:00 +0000",
        "Message-ID: <folded-1@example.org>",
    ]),
    # No From at all (a broken script's mail): the rest still counts.
    "missing_from.eml": message([
        "To: support@example.com",
        "Cc: Carol King <carol@example.net>",
        "Subject: no sender",
        "Date: Mon, 30 Nov 2026 15:00:00 +0000",
        "Message-ID: <nofrom-1@example.net>",
    ]),
    # One person in several headers, in several cases.
    "same_address_many_headers.eml": message([
        "From: DAN@Example.COM",
        "Reply-To: Dan Brown <dan@example.com>",
        "To: support@example.com, Dan@EXAMPLE.com",
        "Cc: \"Brown, Daniel\" <dan@example.com>",
        "Subject: me, myself and I",
        "Date: Mon, 30 Nov 2026 16:00:00 +0000",
        "Message-ID: <same-1@example.com>",
    ]),
    # The mailbox's own addresses, a team user, invalid addresses.
    "own_users_invalid.eml": message([
        "From: Erin Hall <erin@example.com>",
        "To: support@example.com, Help Desk <HELP@example.com>",
        "Cc: agent@example.com, broken@localhost, \"no at sign\" <nobody>, ok.person@example.com",
        "Subject: skips",
        "Date: Mon, 30 Nov 2026 17:00:00 +0000",
        "Message-ID: <skips-1@example.com>",
    ]),
    # An out-of-office reply.
    "auto_reply.eml": message([
        "From: Fred Out <fred@example.com>",
        "To: support@example.com",
        "Subject: Automatic reply: Your ticket",
        "Auto-Submitted: auto-replied",
        "X-Autoreply: yes",
        "Date: Mon, 30 Nov 2026 18:00:00 +0000",
        "Message-ID: <ooo-1@example.com>",
    ], "I am out of the office until Monday.\r\n"),
    # A bounce: DSN from MAILER-DAEMON with an empty return path.
    "bounce.eml": message([
        "Return-Path: <>",
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>",
        "To: support@example.com",
        "Subject: Undelivered Mail Returned to Sender",
        "Date: Mon, 30 Nov 2026 19:00:00 +0000",
        "Message-ID: <bounce-1@mx.example.com>",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"BOUND\"",
    ], "--BOUND\r\nContent-Type: text/plain\r\n\r\nThe mail to <gone@example.net> bounced.\r\n"
       "--BOUND\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; gone@example.net\r\nAction: failed\r\n"
       "--BOUND--\r\n"),
    # A mailing list post.
    "mailing_list.eml": message([
        "From: Gina List <gina@example.com>",
        "To: announce@lists.example.com",
        "Cc: support@example.com",
        "Subject: [announce] New release",
        "Precedence: list",
        "List-Id: Announcements <announce.lists.example.com>",
        "List-Unsubscribe: <mailto:announce-leave@lists.example.com>",
        "Date: Mon, 30 Nov 2026 20:00:00 +0000",
        "Message-ID: <list-1@lists.example.com>",
    ]),
    # A notification from a no-reply sender.
    "no_reply_sender.eml": message([
        "From: GitHub <noreply@github.com>",
        "To: support@example.com",
        "Subject: [repo] New issue",
        "Date: Mon, 30 Nov 2026 21:00:00 +0000",
        "Message-ID: <notif-1@github.com>",
    ]),
    # Cc'd strangers (for the senders-only setting).
    "with_cc.eml": message([
        "From: Hank Hill <hank@example.com>",
        "Reply-To: Hank at Home <hank.home@example.net>",
        "To: support@example.com, Ivy Stranger <ivy@example.org>",
        "Cc: Jack Stranger <jack@example.org>",
        "Subject: cc",
        "Date: Mon, 30 Nov 2026 22:00:00 +0000",
        "Message-ID: <cc-1@example.com>",
    ]),
    # A name for someone imported without one, and someone imported with one.
    "names_for_imported.eml": message([
        "From: Kim Changed <kim@example.com>",
        "To: support@example.com",
        "Cc: Lee Named <lee@example.com>",
        "Subject: names",
        "Date: Mon, 30 Nov 2026 23:00:00 +0000",
        "Message-ID: <names-1@example.com>",
    ]),
    # Cut off in the middle of a header (a dropped connection).
    "truncated.eml": b"From: Mona Cut <mona@example.com>\r\nTo: support@example.com\r\nMessage-ID: <cut-1@example.com>\r\nSubject: this mess",
    # Not an email: bytes of a PNG image.
    "binary.eml": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa",
}


def main():
    for name, data in FIXTURES.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
