//! The journal's tables: what each holds, and why.

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS campaigns (
    id            TEXT PRIMARY KEY,
    content_hash  TEXT NOT NULL,
    first_run_at  INTEGER NOT NULL,
    last_run_at   INTEGER NOT NULL
);
-- Rows are numbered in the order recipients are queued, so that the updates of a send, which
-- goes in that order, fall on the same few pages of the file.
CREATE TABLE IF NOT EXISTS deliveries (
    id              INTEGER PRIMARY KEY,
    campaign        TEXT NOT NULL,
    email           TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued','sending','sent','failed','deferred','unknown')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    smtp_code       INTEGER,
    smtp_reply      TEXT,
    message_id      TEXT,
    langs           TEXT NOT NULL,
    updates         TEXT NOT NULL,
    queued_at       INTEGER NOT NULL,
    last_attempt_at INTEGER,
    sent_at         INTEGER,
    -- The relay (host:port) the last attempt went to.
    relay           TEXT,
    -- The campaign's content hash when the last attempt was claimed: what the message was
    -- made of (a campaign continued with --allow-changed has two).
    content_hash    TEXT,
    UNIQUE (campaign, email)
);
-- Campaigns marked ready by `bulletin schedule`; `due` sends them when their time comes.
CREATE TABLE IF NOT EXISTS schedules (
    campaign        TEXT PRIMARY KEY,
    send_at_ms      INTEGER NOT NULL,
    scheduled_at_ms INTEGER NOT NULL,
    paused_until_ms INTEGER,
    pause_reason    TEXT,
    finished_at_ms  INTEGER
);
-- One row per message handed to the relay, whatever the campaign: rate caps hold across runs.
-- Rows older than a day are pruned, so the table stays small enough to read whole.
CREATE TABLE IF NOT EXISTS handovers (
    at_ms INTEGER NOT NULL,
    relay TEXT
);
-- Addresses never to be mailed again, whatever the campaign (see suppressions.rs), and every
-- addition to and removal from that list.
CREATE TABLE IF NOT EXISTS suppressions (
    email    TEXT PRIMARY KEY,
    reason   TEXT NOT NULL CHECK (reason IN ('unsubscribed','bounced','complained','manual')),
    source   TEXT NOT NULL CHECK (source IN ('link','mailto','bounce','relay','import','command')),
    campaign TEXT,
    at_ms    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS suppression_log (
    email    TEXT NOT NULL,
    action   TEXT NOT NULL CHECK (action IN ('add','remove')),
    reason   TEXT NOT NULL,
    source   TEXT NOT NULL,
    campaign TEXT,
    at_ms    INTEGER NOT NULL,
    -- Who made a change by hand, when told (`suppress remove --by`).
    actor    TEXT
);
-- Messages of a bounce mailbox already imported, so that an import run twice counts nothing
-- twice; and temporary failures, per address and campaign, until enough make a suppression.
CREATE TABLE IF NOT EXISTS mail_seen (
    id    TEXT PRIMARY KEY,
    at_ms INTEGER NOT NULL
);
-- What a bounce import could not apply and left for a person: per mailbox message, the
-- address concerned and why.
CREATE TABLE IF NOT EXISTS mail_review (
    id     TEXT NOT NULL,
    who    TEXT NOT NULL,
    reason TEXT NOT NULL,
    place  TEXT NOT NULL,
    at_ms  INTEGER NOT NULL,
    PRIMARY KEY (id, who)
);
CREATE TABLE IF NOT EXISTS soft_bounces (
    email    TEXT NOT NULL,
    campaign TEXT NOT NULL,
    at_ms    INTEGER NOT NULL,
    PRIMARY KEY (email, campaign)
);
-- Test sends, by the content they showed: `send` says whether this content was test-sent.
CREATE TABLE IF NOT EXISTS test_sends (
    campaign     TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    sent_to      TEXT NOT NULL,
    at_ms        INTEGER NOT NULL
);
-- The reader's say (`bulletin serve`): each address's own choice of languages and topics, which
-- beats its lists' cells, and every choice made, with when and how.
CREATE TABLE IF NOT EXISTS preferences (
    email     TEXT PRIMARY KEY,
    -- Language codes joined by '+' ('en', 'en+fr'): 'all' is stored as every code it meant.
    languages TEXT NOT NULL,
    -- Interest tags joined by ';'.
    interests TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    source    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS preference_log (
    email     TEXT NOT NULL,
    languages TEXT NOT NULL,
    interests TEXT NOT NULL,
    at_ms     INTEGER NOT NULL,
    source    TEXT NOT NULL
);
-- People who signed up through the form and confirmed from the link mailed to them: when the
-- form was sent, when it was confirmed, and the digest of the form's text they saw.
CREATE TABLE IF NOT EXISTS subscribers (
    email           TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    languages       TEXT NOT NULL,
    interests       TEXT NOT NULL,
    requested_at_ms INTEGER NOT NULL,
    confirmed_at_ms INTEGER NOT NULL,
    form_version    TEXT NOT NULL
);
-- Sign-ups asked for through the form, per address and client, and whether a confirmation
-- mail went: the form's limits count them. Older than a day they are pruned.
CREATE TABLE IF NOT EXISTS signup_mails (
    email  TEXT NOT NULL,
    client TEXT NOT NULL,
    at_ms  INTEGER NOT NULL,
    mailed INTEGER NOT NULL
);
-- Addresses erased (`bulletin forget`), by a keyed hash only (the key is the meta row
-- `erase_key`): an address that comes back in a list is recognised and never mailed.
CREATE TABLE IF NOT EXISTS erased (
    hash  TEXT PRIMARY KEY,
    at_ms INTEGER NOT NULL
);
-- Approvals ([approval]): who cleared which campaign, when, and the hash of exactly what goes
-- out (its messages' inputs and its lists); `parts` and `counts` (JSON) say what the hash
-- was made of, so that a refusal can name what changed since.
CREATE TABLE IF NOT EXISTS approvals (
    campaign TEXT NOT NULL,
    hash     TEXT NOT NULL,
    by       TEXT NOT NULL,
    note     TEXT,
    at_ms    INTEGER NOT NULL,
    source   TEXT NOT NULL,
    parts    TEXT NOT NULL,
    counts   TEXT NOT NULL
);
-- Facts about the journal itself: its id (`journal_id`), and who holds the send lock (`holder`).
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
";
