//! The journal's own tests: claims, permissions, continuity, migration.
use super::*;
use std::time::Duration;

/// Each address's row, by address; addresses not in the journal are left out.
fn rows_by_address(
    j: &Journal,
    emails: &[&str],
) -> std::collections::HashMap<String, (i64, State)> {
    let (ids, states) = j.rows_of("c", emails.len(), |i| emails[i]).unwrap();
    emails
        .iter()
        .zip(ids.into_iter().zip(states))
        .filter_map(|(e, (id, s))| s.map(|s| (e.to_string(), (id, s))))
        .collect()
}

#[test]
fn rows_come_back_in_the_order_asked_whatever_the_order_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
    let stored = ["m@x.org", "a@x.org", "z@x.org", "é@x.org"];
    j.enqueue(
        "c",
        stored
            .iter()
            .map(|e| (*e, "en".to_string(), "u".to_string())),
    )
    .unwrap();
    j.enqueue(
        "other",
        [("b@x.org", "en".to_string(), "u".to_string())].into_iter(),
    )
    .unwrap();
    let asked = ["z@x.org", "b@x.org", "é@x.org", "a@x.org", "m@x.org"];
    let (ids, states) = j.rows_of("c", asked.len(), |i| asked[i]).unwrap();
    assert!(states[1].is_none(), "b@x.org is another campaign's");
    // Ids follow the order of queueing: m, a, z, é were 1, 2, 3, 4.
    assert_eq!(ids, vec![3, -1, 4, 2, 1]);
    assert!(states.iter().flatten().all(|s| *s == State::Queued));
}

#[test]
fn records_survive_reopening_and_recover_marks_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let mut j = Journal::open(&path).unwrap();
    let rows = [
        ("a@x.org", "en".to_string(), "u1".to_string()),
        ("b@x.org", "fr".to_string(), "u1".to_string()),
    ];
    assert_eq!(
        j.enqueue("c", rows.iter().map(|(a, b, c)| (*a, b.clone(), c.clone())))
            .unwrap(),
        2
    );
    assert_eq!(
        j.enqueue("c", rows.iter().map(|(a, b, c)| (*a, b.clone(), c.clone())))
            .unwrap(),
        0,
        "enqueue is idempotent"
    );
    let ids: std::collections::HashMap<String, i64> = rows_by_address(&j, &["a@x.org", "b@x.org"])
        .into_iter()
        .map(|(e, (id, _))| (e, id))
        .collect();
    j.apply(&[
        Update::Claim {
            id: ids["a@x.org"],
            message_id: "<1@x>".into(),
            at_ms: 5,
            relay: None,
        },
        Update::Outcome {
            id: ids["a@x.org"],
            state: State::Sent,
            code: Some(250),
            reply: Some("ok".into()),
            at_ms: 6,
        },
        Update::Claim {
            id: ids["b@x.org"],
            message_id: "<2@x>".into(),
            at_ms: 7,
            relay: None,
        },
    ])
    .unwrap();
    drop(j);
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.recover("c").unwrap(), 1);
    let st = rows_by_address(&j, &["a@x.org", "b@x.org"]);
    assert_eq!(st["a@x.org"].1, State::Sent);
    assert_eq!(st["b@x.org"].1, State::Unknown);
    assert_eq!(j.handovers_since(0).unwrap(), vec![5, 7]);
    assert_eq!(j.sent_span("c").unwrap(), Some((6, 6)));
}

#[test]
fn a_recipient_is_claimed_once_whatever_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    std::fs::create_dir(dir.path().join("other")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&path, dir.path().join("other/link.sqlite")).unwrap();
    let mut a = Journal::open(&path).unwrap();
    #[cfg(unix)]
    let mut b = Journal::open(&dir.path().join("other/link.sqlite")).unwrap();
    #[cfg(not(unix))]
    let mut b = Journal::open(&path).unwrap();
    a.enqueue(
        "c",
        [("x@y.org", "en".to_string(), "u".to_string())].into_iter(),
    )
    .unwrap();
    let id = rows_by_address(&a, &["x@y.org"])["x@y.org"].0;
    let claim = |n: &str| Update::Claim {
        id,
        message_id: n.into(),
        at_ms: 1,
        relay: None,
    };
    assert_eq!(a.apply(&[claim("<a@x>")]).unwrap(), vec![Applied::Done]);
    assert_eq!(
        b.apply(&[claim("<b@x>")]).unwrap(),
        vec![Applied::NotDone],
        "claimed twice"
    );
    assert_eq!(a.handovers_since(0).unwrap(), vec![1], "one hand-over only");
    // A deferred recipient may be claimed again, by one run only.
    a.apply(&[Update::Outcome {
        id,
        state: State::Deferred,
        code: Some(451),
        reply: None,
        at_ms: 2,
    }])
    .unwrap();
    assert_eq!(b.apply(&[claim("<b@x>")]).unwrap(), vec![Applied::Done]);
    assert_eq!(a.apply(&[claim("<a@x>")]).unwrap(), vec![Applied::NotDone]);
    let d = &a.deliveries("c", &[]).unwrap()[0];
    assert_eq!(d.attempts, 2);
    assert_eq!(d.message_id.as_deref(), Some("<b@x>"));
}

#[cfg(unix)]
#[test]
fn the_journal_is_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let j = Journal::open(&path).unwrap();
    j.enqueue_one_for_test();
    for p in std::iter::once(path.clone()).chain(side_files(&path)) {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    drop(j);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let _j = Journal::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "tightened on open");
}

#[test]
fn a_journal_without_its_main_file_is_not_opened_anew() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let j = Journal::open(&path).unwrap();
    j.enqueue_one_for_test();
    let [wal, _] = side_files(&path);
    assert!(wal.exists());
    std::fs::remove_file(&path).unwrap();
    let e = Journal::open(&path).err().expect("refused");
    assert!(e.to_string().contains("--new-journal"), "{e}");
    drop(j);
}

#[test]
fn an_older_journal_gets_canonical_addresses_keeping_the_furthest_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let j = Journal::open(&path).unwrap();
    // As an earlier version wrote them: the cell lower-cased, punycode or not.
    for (email, state) in [
        ("user@xn--bcher-kva.example", "sent"),
        ("user@bücher.example", "queued"),
        ("other@xn--bcher-kva.example", "failed"),
    ] {
        j.conn
            .execute(
                "INSERT INTO deliveries (campaign, email, state, langs, updates, queued_at) VALUES ('c', ?1, ?2, 'en', 'u', 0)",
                [email, state],
            )
            .unwrap();
    }
    j.conn
        .execute("DELETE FROM meta WHERE key = 'schema'", [])
        .unwrap();
    drop(j);
    let j = Journal::open(&path).unwrap();
    let st = rows_by_address(&j, &["user@bücher.example", "other@bücher.example"]);
    assert_eq!(st.len(), 2, "{st:?}");
    assert_eq!(st["user@bücher.example"].1, State::Sent);
    assert_eq!(st["other@bücher.example"].1, State::Failed);
}

#[cfg(unix)]
#[test]
fn a_hard_linked_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    drop(Journal::open(&path).unwrap());
    std::fs::hard_link(&path, dir.path().join("other.sqlite")).unwrap();
    let e = Journal::open(&dir.path().join("other.sqlite"))
        .err()
        .expect("refused");
    assert!(e.to_string().contains("hard links"), "{e}");
}

impl Journal {
    fn enqueue_one_for_test(&self) {
        self.conn
            .execute("INSERT INTO deliveries (campaign, email, state, langs, updates, queued_at) VALUES ('c', 'z@y.org', 'queued', 'en', 'u', 0)", [])
            .unwrap();
    }
}

/// A store opens its journal once: every later ask gets the same connection (a temporary table
/// lives only in the connection that made it), a reader that finds none makes none, and the
/// writer's thread gives back the very connection it took.
#[test]
fn a_store_opens_its_journal_once_and_makes_none_to_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let store = Store::new(path.clone());
    assert!(store.existing().unwrap().is_none());
    assert!(store.suppressed_addresses().unwrap().is_empty());
    assert!(!path.exists(), "reading made a journal");
    store
        .journal()
        .unwrap()
        .conn
        .execute_batch("CREATE TEMP TABLE mine (x)")
        .unwrap();
    let same = |j: &Journal| j.conn.execute_batch("SELECT * FROM temp.mine").is_ok();
    assert!(same(&store.existing().unwrap().unwrap()));
    let taken = store.take().unwrap();
    assert!(same(&taken));
    store.give_back(taken);
    assert!(same(&store.journal().unwrap()));
}

/// The run lock: a second store (another process, as far as the lock is concerned) sees it
/// held, cannot take it, and is told who holds it; taking it again in the same store is a
/// no-op, and it is free once the store is gone.
#[test]
fn a_run_lock_is_held_until_its_store_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let first = Store::new(path.clone());
    first.lock_run(Duration::ZERO, "send c").unwrap();
    first.lock_run(Duration::ZERO, "send c").unwrap();
    let second = Store::new(path.clone());
    assert!(second.held_by_a_run());
    let e = second.lock_run(Duration::ZERO, "due").unwrap_err();
    assert!(matches!(e, Error::Busy(_)), "{e}");
    assert!(e.to_string().contains("send c"), "{e}");
    // The probe above closed nothing of the first store's: its connection still writes.
    first.journal().unwrap().set_meta("after", "probe").unwrap();
    drop(first);
    assert!(!second.held_by_a_run());
    second.lock_run(Duration::ZERO, "due").unwrap();
}

/// Continuity through the store: a journal replaced by another is refused once a run has
/// recorded a marker, and a missing one too.
#[test]
fn a_store_refuses_a_replaced_or_missing_journal_after_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let store = Store::new(path.clone());
    store.check_continuity(false).unwrap();
    {
        let j = store.journal().unwrap();
        j.bump_generation().unwrap();
        j.write_marker(&j.marker().unwrap()).unwrap();
    }
    store.check_continuity(false).unwrap();
    drop(store);
    std::fs::remove_file(&path).unwrap();
    for f in side_files(&path) {
        let _ = std::fs::remove_file(f);
    }
    let e = Store::new(path.clone())
        .check_continuity(false)
        .unwrap_err();
    assert!(e.to_string().contains("is missing"), "{e}");
    drop(Journal::open(&path).unwrap());
    let e = Store::new(path.clone())
        .check_continuity(false)
        .unwrap_err();
    assert!(e.to_string().contains("it was replaced"), "{e}");
    Store::new(path).check_continuity(true).unwrap();
}

#[test]
fn a_journal_restored_from_an_older_backup_keeps_every_readers_choice_and_sign_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let backup = dir.path().join("backup.sqlite");
    let choice = |at_ms, lang: &str| Choice {
        email: "a@x.org".into(),
        languages: vec![lang.into()],
        interests: vec!["landmines".into()],
        at_ms,
        source: "page".into(),
    };
    {
        let j = Journal::open(&path).unwrap();
        j.set_preference(&choice(1, "en")).unwrap();
        j.checkpoint().unwrap();
    }
    std::fs::copy(&path, &backup).unwrap();
    {
        let j = Journal::open(&path).unwrap();
        j.set_preference(&choice(2, "fr")).unwrap();
        let s = Subscriber {
            email: "new@x.org".into(),
            name: "New".into(),
            languages: vec!["fr".into()],
            interests: vec![],
            requested_at_ms: 3,
            confirmed_at_ms: 4,
            form_version: "v".into(),
        };
        assert!(matches!(
            j.confirm_signup(&s).unwrap(),
            Confirmed::New { lifted: None }
        ));
        // The same link again changes nothing.
        assert!(matches!(
            j.confirm_signup(&s).unwrap(),
            Confirmed::AlreadyDone { confirmed_at_ms: 4 }
        ));
    }
    // The journal is lost and the backup put back: it learns what it missed from the copy.
    for f in side_files(&path) {
        let _ = std::fs::remove_file(f);
    }
    std::fs::copy(&backup, &path).unwrap();
    let j = Journal::open(&path).unwrap();
    assert_eq!(
        j.preference("a@x.org").unwrap().unwrap().languages,
        vec!["fr"]
    );
    assert_eq!(j.subscribers().unwrap().len(), 1);
    // And a journal made anew, too.
    drop(j);
    std::fs::remove_file(&path).unwrap();
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.preferences().unwrap().len(), 1);
    assert_eq!(j.subscriber("new@x.org").unwrap().unwrap().name, "New");
}
