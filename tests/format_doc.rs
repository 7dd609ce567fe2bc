//! Guards that `format-spec/FORMAT.md` and `src/format.rs` say the same thing:
//! the offset and size of every header field in the spec's tables, the magic,
//! the version, the kinds and the file names match the code's constants.

use seawall::format::*;

fn spec() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/format-spec/FORMAT.md")).unwrap()
}

/// `(offset, size, field)` rows of the table under the heading starting with `heading`.
fn table(spec: &str, heading: &str) -> Vec<(usize, usize, String)> {
    let start = spec.find(heading).unwrap_or_else(|| panic!("no heading {heading}"));
    spec[start..]
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let offset = cells.get(1)?.parse().ok()?;
            let size = cells.get(2)?.parse().unwrap_or(0);
            Some((offset, size, cells.get(3)?.to_string()))
        })
        .collect()
}

#[test]
fn segment_header_table_matches_the_constants() {
    let rows = table(&spec(), "### 3.1 Segment header");
    let want = [
        (SEG_MAGIC_OFF, 8, "magic"),
        (SEG_VERSION_OFF, 4, "version"),
        (SEG_FLAGS_OFF, 4, "flags"),
        (SEG_ID_OFF, 8, "segment_id"),
        (SEG_FIRST_LSN_OFF, 8, "first_lsn"),
        (SEG_SALT_OFF, 8, "salt"),
        (SEG_PREV_CRC_OFF, 4, "prev_crc"),
        (SEG_RESERVED_OFF, SEG_CRC_OFF - SEG_RESERVED_OFF, "reserved"),
        (SEG_CRC_OFF, 4, "header_crc"),
    ];
    let got: Vec<(usize, usize, &str)> = rows.iter().map(|(o, s, f)| (*o, *s, f.as_str())).collect();
    assert_eq!(got, want);
    assert_eq!(SEG_CRC_OFF + 4, SEGMENT_HEADER_LEN);
    assert!(spec().contains(&format!("### 3.1 Segment header ({SEGMENT_HEADER_LEN} bytes)")));
}

#[test]
fn record_header_table_matches_the_constants() {
    let rows = table(&spec(), "### 3.2 Record");
    let want = [
        (REC_CRC_OFF, 4, "crc"),
        (REC_HEADER_CRC_OFF, 4, "header_crc"),
        (REC_LSN_OFF, 8, "lsn"),
        (REC_LEN_OFF, 4, "len"),
        (REC_PREV_CRC_OFF, 4, "prev_crc"),
        (REC_SYNCED_OFF, 4, "synced_off"),
        (REC_KIND_OFF, 1, "kind"),
        (REC_RESERVED_OFF, RECORD_HEADER_LEN - REC_RESERVED_OFF, "reserved"),
    ];
    let got: Vec<(usize, usize, &str)> =
        rows.iter().filter(|r| r.1 > 0).map(|(o, s, f)| (*o, *s, f.as_str())).collect();
    assert_eq!(got, want);
    assert!(spec().contains(&format!("### 3.2 Record ({RECORD_HEADER_LEN}-byte header")));
    assert!(spec().contains(&format!("multiple of {RECORD_ALIGN}")));
}

#[test]
fn magic_version_kinds_and_names_match() {
    let spec = spec();
    let magic_hex: Vec<String> = SEGMENT_MAGIC.iter().map(|b| format!("{b:02x}")).collect();
    assert!(spec.contains(&magic_hex.join(" ")), "magic bytes");
    assert!(spec.contains(&format!("# seawall on-disk format, version {FORMAT_VERSION}")));
    assert!(spec.contains(&format!(
        "{KIND_FULL} full, {KIND_BATCH_FIRST} batch-first, {KIND_BATCH_MIDDLE} batch-middle, {KIND_BATCH_LAST} batch-last"
    )));
    assert!(spec.contains(&format!("`{{id:0{SEGMENT_NAME_DIGITS}x}}{SEGMENT_SUFFIX}`")));
    assert!(spec.contains(&format!("`{LOCK_FILE}`")));
    assert!(spec.contains(&format!("`*{QUARANTINE_SUFFIX}`")));
    assert!(spec.contains(&format!("`{SYNCED_NONE}` = no claim")));
    assert_eq!(MIN_SEGMENT_SIZE, 64 * 1024);
    assert!(spec.contains("at\nleast 64 KiB") || spec.contains("at least 64 KiB"));
}
