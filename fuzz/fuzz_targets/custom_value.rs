//! Custom-value parsing: a value each type accepts comes out in canonical
//! form, which the type accepts again unchanged; variable names either
//! pass or get one sentence.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster_core::field::{
    canonical_boolean, canonical_date, canonical_number, check_variable_name, CustomField,
    FieldType,
};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let raw = raw.trim();
    if let Ok(n) = canonical_number(raw) {
        assert_eq!(canonical_number(&n).as_deref(), Ok(n.as_str()), "{raw:?}");
        assert!(!n.starts_with('+') && n != "-0", "{n:?}");
        assert!(
            n.bytes()
                .all(|b| b.is_ascii_digit() || b == b'-' || b == b'.'),
            "{n:?}"
        );
        if n.contains('.') {
            assert!(!n.ends_with('0') && !n.ends_with('.'), "{n:?}");
        }
    }
    if let Ok(b) = canonical_boolean(raw) {
        assert!(b == "true" || b == "false");
    }
    if let Ok(d) = canonical_date(raw) {
        assert_eq!(canonical_date(&d).as_deref(), Ok(d.as_str()), "{raw:?}");
        assert_eq!(d.len(), 10, "{d:?}");
    }
    let _ = check_variable_name(raw);
    let select = CustomField {
        id: 1,
        variable_name: "plan".into(),
        name: "Plan".into(),
        field_type: FieldType::Select,
        options: vec!["free".into(), "Pro".into(), "ÉLITE".into()],
    };
    match select.canonicalize(raw) {
        Ok(v) => assert!(select.options.contains(&v)),
        Err(m) => assert!(m.len() <= 2 * raw.len() + 256, "{m}"),
    }
    for t in [
        FieldType::Text,
        FieldType::Number,
        FieldType::Boolean,
        FieldType::Date,
    ] {
        let f = CustomField {
            field_type: t,
            options: vec![],
            ..select.clone()
        };
        if let Ok(v) = f.canonicalize(raw) {
            assert_eq!(
                f.canonicalize(&v).as_deref(),
                Ok(v.as_str()),
                "{t:?} {raw:?}"
            );
        }
    }
    // What the store keeps of them decodes back.
    let ids: Vec<i64> = raw.bytes().map(i64::from).collect();
    assert_eq!(
        roster_store::decode_ids(&roster_store::encode_ids(&ids)),
        ids
    );
    let mut custom = std::collections::BTreeMap::new();
    custom.insert(1, raw.to_string());
    custom.insert(2, String::new());
    assert_eq!(
        roster_store::decode_custom(&roster_store::encode_custom(&custom)),
        custom
    );
});
