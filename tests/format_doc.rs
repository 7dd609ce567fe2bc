//! Guards that `format-spec/FORMAT.md` and `src/format.rs` say the same thing:
//! the offset and size of every field in the spec's byte tables (segment
//! header, record header, meta payload and its entries, seal index, trailer,
//! parity payload), the kind bytes, magics, version, flags, limits and file
//! names match the code's constants. The decision table's rows are checked
//! by a unit test in `src/decide.rs`.

use seawall::format::*;
use seawall::RecordKind;

fn spec() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/format-spec/FORMAT.md")).unwrap()
}

/// `(offset, size, field)` rows of the first table after the line starting
/// with `marker`. Rows whose offset is not a number (a payload at `32+len`)
/// are left out; a size that is not a number (`len`, `key_len`) reads as 0.
fn table(spec: &str, marker: &str) -> Vec<(usize, usize, String)> {
    let start = spec.find(marker).unwrap_or_else(|| panic!("FORMAT.md lacks `{marker}`"));
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

/// Checks the fixed-size rows of the table under `marker` against `want`,
/// and that the fields tile the layout without gaps or overlaps up to `len`.
fn check_table(marker: &str, want: &[(usize, usize, &str)], len: usize) {
    let rows = table(&spec(), marker);
    let got: Vec<(usize, usize, &str)> =
        rows.iter().filter(|r| r.1 > 0).map(|(o, s, f)| (*o, *s, f.as_str())).collect();
    assert_eq!(got, want, "table under `{marker}`");
    let mut at = 0;
    for &(off, size, field) in want {
        assert_eq!(off, at, "`{field}` under `{marker}` leaves a gap or overlaps");
        at += size;
    }
    assert_eq!(at, len, "the table under `{marker}` covers {at} bytes, the layout {len}");
}

#[test]
fn segment_header_table_matches_the_constants() {
    check_table(
        &format!("### 3.1 Segment header ({SEGMENT_HEADER_LEN} bytes)"),
        &[
            (SEG_MAGIC_OFF, 8, "magic"),
            (SEG_VERSION_OFF, 4, "version"),
            (SEG_FLAGS_OFF, 4, "flags"),
            (SEG_ID_OFF, 8, "segment_id"),
            (SEG_FIRST_LSN_OFF, 8, "first_lsn"),
            (SEG_SALT_OFF, 8, "salt"),
            (SEG_PREV_CRC_OFF, 4, "prev_crc"),
            (SEG_PREV_SYNCED_OFF, 4, "prev_synced"),
            (SEG_RESERVED_OFF, SEG_CRC_OFF - SEG_RESERVED_OFF, "reserved"),
            (SEG_CRC_OFF, 4, "header_crc"),
        ],
        SEGMENT_HEADER_LEN,
    );
}

#[test]
fn record_header_table_matches_the_constants() {
    check_table(
        &format!("### 3.2 Record ({RECORD_HEADER_LEN}-byte header"),
        &[
            (REC_CRC_OFF, 4, "crc"),
            (REC_HEADER_CRC_OFF, 4, "header_crc"),
            (REC_LSN_OFF, 8, "lsn"),
            (REC_LEN_OFF, 4, "len"),
            (REC_PREV_CRC_OFF, 4, "prev_crc"),
            (REC_SYNCED_OFF, 4, "synced_off"),
            (REC_KIND_OFF, 1, "kind"),
            (REC_RESERVED_OFF, RECORD_HEADER_LEN - REC_RESERVED_OFF, "reserved"),
        ],
        RECORD_HEADER_LEN,
    );
    let spec = spec();
    assert!(spec.contains(&format!("zero padding to a multiple of {RECORD_ALIGN})")));
    assert!(spec.contains(&format!("A record occupies `ceil{RECORD_ALIGN}({RECORD_HEADER_LEN} + len)` bytes")));
    assert!(spec.contains(&format!("`{SYNCED_NONE}` = no claim")));
    assert!(spec.contains(&format!("in `{SEGMENT_HEADER_LEN} ..= the record's own offset`")));
}

#[test]
fn meta_payload_tables_match_the_constants() {
    check_table(
        "### 3.4 Meta payload",
        &[
            (META_FLAGS_OFF, 4, "flags"),
            (META_COUNT_OFF, 4, "count"),
            (META_FIRST_LSN_OFF, 8, "first_lsn"),
            (META_CUT_LSN_OFF, 8, "cut_lsn"),
            (META_CUT_CRC_OFF, 4, "cut_crc"),
            (META_DEAD_START_OFF, 4, "dead_start"),
        ],
        META_FIXED_LEN,
    );
    check_table(
        &format!("`count` entries follow at offset {META_FIXED_LEN}, each:"),
        &[(0, 2, "key_len"), (2, 4, "value_len")],
        META_ENTRY_HEADER_LEN,
    );
    let spec = spec();
    assert!(spec.contains(&format!("(`{META_FLAG_SNAPSHOT}`): **snapshot**")));
    assert!(spec.contains(&format!("(`{META_FLAG_CUT}`): **cut**")));
    assert_eq!(META_FLAGS_KNOWN, META_FLAG_SNAPSHOT | META_FLAG_CUT, "the spec names two flags");
    assert!(spec.contains(&format!("at least {META_FIXED_LEN} bytes")));
    assert!(spec.contains(&format!("key 1..={MAX_META_KEY} bytes")));
    assert!(spec.contains(&format!("value\nat most {} KiB", MAX_META_VALUE / 1024)));
    assert!(
        spec.contains(&format!("at\nmost {} MiB and at most a sixteenth of the segment size", MAX_META_TOTAL >> 20))
    );
    assert_eq!(meta_limit(MIN_SEGMENT_SIZE), MIN_SEGMENT_SIZE / 16);
    assert_eq!(meta_limit(MAX_SEGMENT_SIZE), MAX_META_TOTAL);
}

#[test]
fn seal_index_and_trailer_tables_match_the_constants() {
    check_table(
        "### 3.5 Seal index payload",
        &[(SEAL_FIRST_LSN_OFF, 8, "first_lsn"), (SEAL_COUNT_OFF, 4, "count"), (SEAL_RESERVED_OFF, 4, "reserved")],
        SEAL_FIXED_LEN,
    );
    assert!(spec().contains(&format!("exactly `{SEAL_FIXED_LEN} + 4 × count` bytes")));
    assert_eq!(seal_size(3), record_size(SEAL_FIXED_LEN as u64 + 12));
    check_table(
        &format!("### 3.6 Trailer ({TRAILER_LEN} bytes)"),
        &[
            (TRL_MAGIC_OFF, 8, "magic"),
            (TRL_ID_OFF, 8, "segment_id"),
            (TRL_SALT_OFF, 8, "salt"),
            (TRL_FIRST_LSN_OFF, 8, "first_lsn"),
            (TRL_LAST_LSN_OFF, 8, "last_lsn"),
            (TRL_LAST_CRC_OFF, 4, "last_crc"),
            (TRL_INDEX_OFF_OFF, 4, "index_off"),
            (TRL_INDEX_CRC_OFF, 4, "index_crc"),
            (TRL_RESERVED_OFF, TRL_CRC_OFF - TRL_RESERVED_OFF, "reserved"),
            (TRL_CRC_OFF, 4, "trailer_crc"),
        ],
        TRAILER_LEN,
    );
    assert!(spec().contains(&format!("at least {} bytes", SEGMENT_HEADER_LEN + TRAILER_LEN)));
}

#[test]
fn parity_table_and_frontier_match_the_constants() {
    check_table(
        "### 3.7 Parity payload",
        &[(PARITY_START_OFF, 4, "start"), (PARITY_END_OFF, 4, "end"), (PARITY_DATA_OFF, PARITY_PAGE, "page")],
        PARITY_PAYLOAD_LEN,
    );
    let spec = spec();
    assert!(spec.contains(&format!("`FRONTIER` = {FRONTIER}")));
    assert_eq!(FRONTIER, PARITY_PAGE as u64);
    assert!(spec.contains(&format!("exactly {PARITY_PAYLOAD_LEN} bytes (the record {PARITY_RECORD_LEN})")));
    assert!(spec.contains(&format!("a gap of 1 to {} bytes", RECORD_HEADER_LEN - 1)));
}

#[test]
fn kinds_match_the_code() {
    let spec = spec();
    assert!(spec.contains(&format!(
        "The kind byte: {KIND_FULL} full, {KIND_BATCH_FIRST} batch-first, {KIND_BATCH_MIDDLE} batch-middle, \
         {KIND_BATCH_LAST} batch-last, {KIND_META} meta, {KIND_SEAL} seal, {KIND_PAD} pad, {KIND_PARITY} parity."
    )));
    // The kinds table: byte, name, whether it takes an LSN, as the code says.
    let rows: Vec<(u8, String, String)> = {
        let start = spec.find("| kind | name | takes an LSN | payload |").expect("kinds table");
        spec[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                let c: Vec<&str> = l.split('|').map(str::trim).collect();
                (c[1].parse().unwrap(), c[2].to_string(), c[3].to_string())
            })
            .collect()
    };
    let names = ["full", "batch-first", "batch-middle", "batch-last", "meta", "seal", "pad", "parity"];
    assert_eq!(rows.len(), names.len());
    for ((byte, name, takes), want) in rows.iter().zip(names) {
        let kind = RecordKind::from_byte(*byte).unwrap_or_else(|| panic!("kind byte {byte}"));
        assert_eq!(name, want);
        assert_eq!(takes == "yes", kind.takes_lsn(), "kind {name}");
    }
    assert_eq!(RecordKind::from_byte(0), None);
    assert_eq!(RecordKind::from_byte(KIND_PARITY + 1), None);
    assert!(spec.contains(&format!("`kind` in 1..={KIND_PARITY}")));
}

#[test]
fn magic_version_flags_and_limits_match() {
    let spec = spec();
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
    assert!(spec.contains(&format!("`{}` (`\"SEAWALL\\0\"`)", hex(&SEGMENT_MAGIC))), "segment magic");
    assert!(spec.contains(&format!("`{}` (`\"SEAWSEAL\"`)", hex(&TRAILER_MAGIC))), "trailer magic");
    assert!(spec.contains(&format!("# seawall on-disk format, version {FORMAT_VERSION}")));
    assert!(spec.contains(&format!("| 8 | 4 | version | format version, `{FORMAT_VERSION}` |")));
    assert!(spec.contains(&format!("bit 0 (`{SEG_FLAG_RESET}`): **reset**")));
    assert!(spec.contains(&format!("bit 1 (`{SEG_FLAG_COPY}`): **copy**")));
    assert!(spec.contains(&format!("bit 2 (`{SEG_FLAG_AHEAD}`): **ahead**")));
    assert_eq!(SEG_FLAGS_KNOWN, SEG_FLAG_RESET | SEG_FLAG_COPY | SEG_FLAG_AHEAD, "the spec names three header flags");
    assert!(spec.contains("`MAX_LSN = 2^63 - 1`"));
    assert_eq!(MAX_LSN, (1u64 << 63) - 1);
    assert!(spec.contains("`1 ..= MAX_SEGMENT_ID` (`2^62`)"));
    assert_eq!(MAX_SEGMENT_ID, 1u64 << 62);
    assert_eq!((MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE), (64 * 1024, 4 << 30));
    assert!(spec.contains("at least 64 KiB, at most 4 GiB"));
}

#[test]
fn file_names_match() {
    let spec = spec();
    assert!(spec.contains(&format!("`{{id:0{SEGMENT_NAME_DIGITS}x}}{SEGMENT_SUFFIX}`")));
    assert!(spec.contains(&format!("exactly {SEGMENT_NAME_DIGITS} lower-case hex digits and `{SEGMENT_SUFFIX}`")));
    assert!(spec.contains(&format!("| `{LOCK_FILE}` |")));
    assert!(spec.contains(&format!("| `*{QUARANTINE_SUFFIX}` |")));
    assert_eq!(seawall::SegmentId::new(0x1f).file_name(), "000000000000001f.wal");
}
