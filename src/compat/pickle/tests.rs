use super::*;

/// Python 3.11: `pickle.dumps({...})` of a session blob with every plain
/// type, a datetime, a shared list and a big int (protocol 4, framed,
/// memoized).
const PY_BLOB: &[u8] = b"\x80\x04\x95\xc2\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x0cmanaged_dict\x94}\x94(\x8c\x07counter\x94K\x03\x8c\x04when\x94\x8c\x08datetime\x94\x8c\x08datetime\x94\x93\x94C\n\x07\xe8\x01\x02\x03\x04\x05\x00\x00\x06\x94\x85\x94R\x94\x8c\x01b\x94C\x01x\x94\x8c\x03big\x94\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00@\x8c\x03neg\x94J\xfb\xff\xff\xff\x8c\x01f\x94G?\xf8\x00\x00\x00\x00\x00\x00\x8c\x01t\x94K\x01\x8c\x01x\x94\x86\x94\x8c\x01l\x94]\x94(K\x01K\x02e\x8c\x01n\x94Nu\x8c\x07created\x94G?\xf8\x00\x00\x00\x00\x00\x00\x8c\x07timeout\x94M\xb0\x04u.";

fn s(text: &str) -> Value {
    Value::Str(text.into())
}

#[test]
fn a_python_session_blob_parses_into_its_values() {
    let Value::Dict(top) = parse(PY_BLOB).unwrap() else {
        panic!("not a dict")
    };
    assert_eq!(top[1], (s("created"), Value::Float(1.5)));
    assert_eq!(top[2], (s("timeout"), Value::Int(1200)));
    let Value::Dict(managed) = &top[0].1 else {
        panic!("no managed_dict")
    };
    let want = [
        (s("counter"), Value::Int(3)),
        (
            s("when"),
            Value::Reduce(
                Box::new(Value::Global("datetime".into(), "datetime".into())),
                Box::new(Value::Tuple(vec![Value::Bytes(
                    b"\x07\xe8\x01\x02\x03\x04\x05\x00\x00\x06".to_vec(),
                )])),
            ),
        ),
        (s("b"), Value::Bytes(b"x".to_vec())),
        (s("big"), Value::Long([vec![0; 8], vec![0x40]].concat())),
        (s("neg"), Value::Int(-5)),
        (s("f"), Value::Float(1.5)),
        (s("t"), Value::Tuple(vec![Value::Int(1), s("x")])),
        (s("l"), Value::List(vec![Value::Int(1), Value::Int(2)])),
        (s("n"), Value::None),
    ];
    assert_eq!(managed[..], want[..]);
}

#[test]
fn writing_then_reading_gives_the_same_tree() {
    let value = parse(PY_BLOB).unwrap();
    let bytes = to_bytes(&value);
    assert_eq!(bytes[..2], [0x80, 3], "bytes and globals need protocol 3");
    assert_eq!(parse(&bytes).unwrap(), value);
    let ints: Vec<Value> = [0, 1, 255, 256, 65535, 65536, -1, -129, -(1 << 31), 1 << 31]
        .into_iter()
        .chain([i64::MIN, i64::MAX])
        .map(Value::Int)
        .collect();
    let all = Value::List(vec![
        Value::List(ints),
        Value::Tuple(vec![]),
        Value::Tuple((0..5).map(Value::Int).collect()),
        Value::Set(vec![Value::Int(1)]),
        Value::FrozenSet(vec![s("x")]),
        Value::ByteArray(vec![1, 2]),
        Value::Str8(b"py2".to_vec()),
        Value::Bytes(vec![0; 300]),
        s(&"y".repeat(300)),
        Value::Bool(true),
        Value::Bool(false),
        Value::Dict(vec![]),
    ]);
    let bytes = to_bytes(&all);
    assert_eq!(bytes[1], 5);
    assert_eq!(parse(&bytes).unwrap(), all);
}

#[test]
fn a_list_memoized_before_it_is_filled_is_seen_filled() {
    // x = [1, 2]; pickle.dumps({'a': x, 'b': x}, 2)
    let shared =
        b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01K\x02eX\x01\x00\x00\x00bq\x03h\x02u.";
    let list = Value::List(vec![Value::Int(1), Value::Int(2)]);
    assert_eq!(
        parse(shared).unwrap(),
        Value::Dict(vec![(s("a"), list.clone()), (s("b"), list)])
    );
}

#[test]
fn protocol_0_pickles_parse() {
    // pickle.dumps({'a': [1, 'x', 2.5, True, None, 10**20]}, 0) in Python 3,
    // with its big int replaced by a 64-bit one, and a Python 2 str.
    let p0 = b"(dp0\nVa\np1\n(lp2\nI1\naVx\\u00e9\np3\naF2.5\naI01\naNaL12345678901L\naS'q\\'\\x41'\np4\nas.";
    assert_eq!(
        parse(p0).unwrap(),
        Value::Dict(vec![(
            s("a"),
            Value::List(vec![
                Value::Int(1),
                s("x\u{e9}"),
                Value::Float(2.5),
                Value::Bool(true),
                Value::None,
                Value::Int(12_345_678_901),
                Value::Str8(b"q'A".to_vec()),
            ])
        )])
    );
}

#[test]
fn hostile_pickles_are_refused_without_running_anything() {
    for bad in [
        &b""[..],
        b"K",                         // no STOP
        b"K\x01.extra",               // trailing bytes
        b"\x80\x06K\x01.",            // unknown protocol
        b"Pfoo\n.",                   // persistent id
        b"\x82\x01.",                 // extension registry
        b"h\x05.",                    // memo reference to nothing
        b"X\xff\xff\xff\x7fabc.",     // length beyond the input
        b"]q\x00h\x00a.",             // a list inside itself
        b"\x8c\x01a\x8c\x02b\n\x93.", // a line break in a global name
        b"a.",                        // append to nothing
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
    // Deep nesting and memo bombs stop at the limits.
    let mut deep = vec![b']'; MAX_DEPTH + 5];
    deep.extend(std::iter::repeat_n(b'a', MAX_DEPTH + 4));
    deep.push(b'.');
    assert!(parse(&deep).unwrap_err().0.contains("deeper"));
    // Each list holds the previous one twice: 2^40 values once expanded.
    let mut bomb = b"]q\x00".to_vec();
    for i in 0..40u8 {
        bomb.extend_from_slice(&[b'(', b'h', i, b'h', i, b'l', b'q', i + 1]);
    }
    bomb.push(b'.');
    assert!(parse(&bomb).unwrap_err().0.contains("more than"));
}

#[test]
fn memo_references_count_as_the_bytes_they_become() {
    // s = 'a' * 1024; L = [s, s]; then 17 times L = [L, L]: 1.2 KB that
    // expands to 2^19 copies of s (512 MiB).
    let mut bomb = b"\x80\x02X\x00\x04\x00\x00".to_vec();
    bomb.extend(std::iter::repeat_n(b'a', 1024));
    bomb.extend_from_slice(b"q\x00]q\x01(h\x00h\x00e");
    for i in 1..=17u8 {
        bomb.extend_from_slice(&[b']', b'q', i + 1, b'(', b'h', i, b'h', i, b'e']);
    }
    bomb.push(b'.');
    assert!(bomb.len() < 1300);
    let e = parse(&bomb).unwrap_err().0;
    assert!(e.contains("expands to more than 1048576 bytes"), "{e}");
    // A smaller budget stops smaller sessions; a roomy one reads them.
    let small = super::to_bytes(&Value::Str("x".repeat(5000)));
    assert!(super::parse_within(&small, 4096).is_err());
    assert!(super::parse_within(&small, 8192).is_ok());
}

#[test]
fn opaque_objects_name_their_type() {
    let v = Value::Build(
        Box::new(Value::NewObj(
            Box::new(Value::Global("app.models".into(), "User".into())),
            Box::new(Value::Tuple(vec![])),
        )),
        Box::new(Value::Dict(vec![])),
    );
    assert_eq!(v.type_name(), "app.models.User");
    assert_eq!(parse(&to_bytes(&v)).unwrap(), v);
}

#[test]
fn text_longs_of_any_size_parse() {
    // Python 3: pickle.dumps(10**20, 0) and pickle.dumps(-(2**70), 1).
    assert_eq!(
        parse(b"L100000000000000000000L\n.").unwrap(),
        Value::Long(vec![0, 0, 0x10, 0x63, 0x2d, 0x5e, 0xc7, 0x6b, 0x05])
    );
    assert_eq!(
        parse(b"L-1180591620717411303424L\n.").unwrap(),
        Value::Long(vec![0, 0, 0, 0, 0, 0, 0, 0, 0xc0])
    );
    assert_eq!(parse(b"L-5L\n.").unwrap(), Value::Int(-5));
    assert!(parse(b"L12x\n.").is_err());
}

#[test]
fn python_2_era_trees_are_written_as_protocol_2_and_read_back_the_same() {
    // A Python 2 `cPickle.dumps(datetime.date(2024, 2, 29))` (protocol 0).
    let date = parse(b"cdatetime\ndate\np0\n(S'\\x07\\xe8\\x02\\x1d'\np1\ntp2\nRp3\n.").unwrap();
    assert_eq!(date.type_name(), "datetime.date");
    let tree = Value::Dict(vec![
        (s("when"), date),
        (s("raw"), Value::Bytes(vec![0, 200, 255])),
        (s("empty"), Value::Bytes(vec![])),
        (s("set"), Value::Set(vec![Value::Int(1)])),
        (s("frozen"), Value::FrozenSet(vec![])),
        (s("array"), Value::ByteArray(vec![1, 2])),
        (s("no array"), Value::ByteArray(vec![])),
    ]);
    let bytes = to_bytes(&tree);
    assert_eq!(bytes[..2], [0x80, 2]);
    assert_eq!(parse(&bytes).unwrap(), tree);
}

#[test]
fn mutated_pickles_never_panic_and_what_parses_round_trips() {
    // A fixed xorshift sequence: the same mutations on every run.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: [&[u8]; 2] = [PY_BLOB, &to_bytes(&parse(PY_BLOB).unwrap())];
    let mut parsed = 0;
    for round in 0..20_000 {
        let mut bytes = seeds[round % 2].to_vec();
        for _ in 0..=(next() % 3) {
            let at = (next() as usize) % bytes.len();
            match next() % 3 {
                0 => bytes[at] = next() as u8,
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, next() as u8),
            }
        }
        if let Ok(value) = parse(&bytes) {
            parsed += 1;
            // Compared as bytes: a NaN is not equal to itself.
            let written = to_bytes(&value);
            assert_eq!(to_bytes(&parse(&written).unwrap()), written, "{bytes:?}");
        }
    }
    assert!(
        parsed > 100,
        "too few mutations parsed ({parsed}) to test much"
    );
}
