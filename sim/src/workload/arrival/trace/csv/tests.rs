use super::*;
use ratelab_strategies::time::{MS, SECOND};

fn parse(text: &str) -> Trace {
    Trace::parse(text, "trace.csv").unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    Trace::parse(text, "trace.csv").expect_err("an error")
}

fn ready(t: &Trace) -> Vec<Nanos> {
    (0..t.len() as u64).map(|id| t.ready_at(id)).collect()
}

#[test]
fn a_ready_s_column_alone() {
    let t = parse("ready_s\n0\n0.5\n0.5\n2\n");
    assert_eq!(ready(&t), vec![0, 500 * MS, 500 * MS, 2 * SECOND]);
    assert!(!t.has_tokens());
    assert_eq!(t.tokens_of(0), None);
    assert_eq!(t.mean_tokens(4), 1.0);
    assert_eq!(
        (0..5).map(|id| t.gap(id)).collect::<Vec<_>>(),
        vec![0, 500 * MS, 0, 1500 * MS, 0],
        "gaps, and 0 beyond the last row"
    );
}

#[test]
fn columns_in_any_order_other_columns_ignored_quoted_names() {
    let t = parse("user, tokens ,\"ready_s\",note\nalice,10,1.25,x\nbob,\"30\",3,\n");
    assert_eq!(ready(&t), vec![1250 * MS, 3 * SECOND]);
    assert_eq!((t.tokens_of(0), t.tokens_of(1)), (Some(10), Some(30)));
    assert_eq!(t.mean_tokens(2), 20.0);
    assert_eq!(t.mean_tokens(1), 10.0, "the mean of the rows used");
    assert_eq!(t.gap(0), 1250 * MS, "the first gap is from t = 0");
}

#[test]
fn line_endings_trailing_and_blank_lines() {
    let want = vec![SECOND, 2 * SECOND];
    for text in [
        "ready_s\r\n1\r\n2\r\n",
        "ready_s\n1\n2",
        "ready_s\n1\n2\n\n",
        "ready_s\r\n1\r\n2\r\n\r\n  \r\n",
        "\u{feff}ready_s\n\n1\n2\n",
    ] {
        assert_eq!(ready(&parse(text)), want, "{text:?}");
    }
    let t = parse("ready_s,tokens\r\n1,5\r\n2,7\r\n");
    assert_eq!(t.tokens_of(1), Some(7), "no \\r left in the last cell");
}

#[test]
fn lines_are_the_files_lines() {
    let t = parse("ready_s\n\n1\n2\n5\n");
    assert_eq!(t.first_after(3 * SECOND), Some((5, 5.0)));
    assert_eq!(
        t.first_after(5 * SECOND),
        None,
        "a row at the horizon is within it"
    );
}

#[test]
fn empty_files_and_files_without_rows() {
    for text in ["", "\n\n", "\r\n  \r\n"] {
        let e = error(text);
        assert!(e.starts_with("trace.csv: empty"), "{text:?}: {e}");
    }
    let e = error("ready_s\n\n");
    assert!(
        e.starts_with("trace.csv: no rows after the header (line 1)"),
        "{e}"
    );
}

#[test]
fn a_header_without_ready_s() {
    let e = error("0.5,3\n1,2\n");
    assert!(
        e.starts_with("trace.csv line 1: the header has no `ready_s` column"),
        "{e}"
    );
    assert!(e.contains("`0.5`, `3`"), "{e}");
    let e = error("\nready,tokens\n1,2\n");
    assert!(
        e.starts_with("trace.csv line 2: the header has no `ready_s`"),
        "{e}"
    );
    let e = error("ready_s,ready_s\n1,2\n");
    assert_eq!(e, "trace.csv line 1: the header names `ready_s` twice");
}

#[test]
fn malformed_numbers_name_the_line_and_the_text() {
    let e = error("ready_s\n0\n1\nabc\n");
    assert_eq!(e, "trace.csv line 4: ready_s \"abc\" is not a number");
    let e = error("ready_s\n0\n\n\n\n\nabc\n");
    assert!(e.starts_with("trace.csv line 7: ready_s \"abc\""), "{e}");
    let e = error("ready_s\n");
    assert!(e.contains("no rows"), "{e}");
    for bad in ["-1", "inf", "NaN", "-0.001"] {
        let e = error(&format!("ready_s\n{bad}\n"));
        assert_eq!(
            e,
            format!("trace.csv line 2: ready_s {bad} must be a finite number ≥ 0"),
        );
    }
    let e = error("ready_s\n\"\"\n");
    assert_eq!(e, "trace.csv line 2: ready_s \"\" is not a number");
}

#[test]
fn rows_out_of_order_name_both_lines() {
    let e = error("ready_s\n0\n1\n1\n1.5\n1.5\n2\n2.0\n1.5\n");
    assert_eq!(
        e,
        "trace.csv line 9: ready_s 1.5 is before line 8's 2.0: rows must be sorted by ready_s"
    );
}

#[test]
fn bad_tokens_and_short_rows() {
    let e = error("ready_s,tokens\n0,1\n1,0\n");
    assert_eq!(e, "trace.csv line 3: tokens 0 must be in 1..=1000000000");
    let e = error("ready_s,tokens\n0,2.5\n");
    assert_eq!(
        e,
        "trace.csv line 2: tokens \"2.5\" is not a whole number ≥ 1"
    );
    let e = error("ready_s,tokens\n0,\n");
    assert_eq!(e, "trace.csv line 2: tokens \"\" is not a whole number ≥ 1");
    let e = error("ready_s,tokens\n0\n");
    assert_eq!(
        e,
        "trace.csv line 2: no tokens value: the row has 1 cell, tokens is column 2"
    );
    let e = error("id,ready_s\n7\n");
    assert!(e.starts_with("trace.csv line 2: no ready_s value"), "{e}");
}

#[test]
fn missing_and_unreadable_files_are_named() {
    let e = Trace::read(Path::new("no/such/trace.csv")).unwrap_err();
    assert!(e.starts_with("no/such/trace.csv: cannot read:"), "{e}");
    let dir = std::env::temp_dir().join(format!("ratelab-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("latin1.csv");
    std::fs::write(&bad, b"ready_s\n1\xff\n").unwrap();
    let e = Trace::read(&bad).unwrap_err();
    assert!(e.ends_with("not UTF-8 text (byte 9)"), "{e}");
    let good = dir.join("good.csv");
    std::fs::write(&good, "ready_s\n1\n").unwrap();
    assert_eq!(Trace::read(&good).unwrap().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn scaling_divides_ready_times() {
    let t = parse("ready_s,tokens\n1,4\n3,4\n");
    let fast = t.scaled(10.0);
    assert_eq!(ready(&fast), vec![100 * MS, 300 * MS]);
    assert_eq!(fast.tokens_of(1), Some(4));
}
