//! Benchmark: builds a 50,000-transaction bank statement in v102 (unclosed leaves) and v220,
//! times `parse_response` over each and prints throughput and a peak-size estimate.
//!
//! `cargo run --release --example bench_parse -- [--write PREFIX] [--transactions N] [--iterations K]`
//! With `--write`, the two documents are also saved as `PREFIX-v102.ofx` and `PREFIX-v220.ofx`
//! so `bench/ofxtools_parse.py` can time another parser on the very same bytes.

use std::time::Instant;

/// The allocator `ferry` itself runs with.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use ferry_connector_ofx::{
    AccountRef, AccountType, Balance, Content, Element, OfxDate, Response, SignonResponse, Statement,
    StatementTransaction, Status, Style, TransactionList, TrnRs, TrnType, parse, parse_response, write,
};
use rust_decimal::Decimal;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let count: usize = value("--transactions").map(|v| v.parse()).transpose()?.unwrap_or(50_000);
    let iterations: usize = value("--iterations").map(|v| v.parse()).transpose()?.unwrap_or(5);
    for version in [102u16, 220] {
        let bytes = write(&statement(version, count).to_ofx(), Style { closed_leaves: false, pretty: true });
        if let Some(prefix) = value("--write") {
            let path = format!("{prefix}-v{version}.ofx");
            std::fs::write(&path, &bytes)?;
            println!("wrote {path}");
        }
        // One untimed run warms the allocator and checks the result.
        let parsed = parse_response(&bytes)?;
        let n = parsed.bank_statements[0]
            .body
            .as_ref()
            .and_then(|s| s.transactions.as_ref())
            .map_or(0, |l| l.transactions.len());
        assert_eq!(n, count);
        // The best of several runs, as the ofxtools script reports, so the two compare alike.
        let mut secs = f64::MAX;
        for _ in 0..iterations {
            let start = Instant::now();
            std::hint::black_box(parse_response(std::hint::black_box(&bytes))?);
            secs = secs.min(start.elapsed().as_secs_f64());
        }
        let tree = parse(&bytes)?;
        let tree_bytes = tree_size(&tree.root);
        let typed_bytes = count * (std::mem::size_of::<StatementTransaction>() + 48);
        println!(
            "ferry v{version}: {:.2} MB in {:.1} ms/parse -> {:.1} MB/s, {:.0} transactions/s; \
             peak estimate {:.1} MB (decoded text {:.1} + tree {:.1} + typed {:.1})",
            bytes.len() as f64 / 1e6,
            secs * 1e3,
            bytes.len() as f64 / 1e6 / secs,
            count as f64 / secs,
            (bytes.len() + tree_bytes + typed_bytes) as f64 / 1e6,
            bytes.len() as f64 / 1e6,
            tree_bytes as f64 / 1e6,
            typed_bytes as f64 / 1e6,
        );
    }
    Ok(())
}

/// Heap and inline bytes of a tree, walked with a stack.
fn tree_size(root: &Element) -> usize {
    let mut total = 0;
    let mut stack = vec![root];
    while let Some(el) = stack.pop() {
        total += std::mem::size_of::<Element>() + el.name.capacity();
        match &el.content {
            Content::Text(t) => total += t.capacity(),
            Content::Children(c) => {
                total += (c.capacity() - c.len()) * std::mem::size_of::<Element>();
                stack.extend(c.iter());
            }
        }
    }
    total
}

fn statement(version: u16, count: usize) -> Response {
    let day = |n: usize| {
        let base = time::macros::date!(2020 - 01 - 01);
        base + time::Duration::days((n % 1500) as i64)
    };
    let transactions = (0..count)
        .map(|i| StatementTransaction {
            trntype: if i % 3 == 0 { TrnType::Credit } else { TrnType::Debit },
            dtposted: if i % 2 == 0 {
                OfxDate::Date(day(i))
            } else {
                OfxDate::DateTime(day(i).midnight().assume_offset(time::macros::offset!(-5)))
            },
            dtuser: None,
            dtavail: None,
            amount: Decimal::new(if i % 3 == 0 { 1 } else { -1 } * (i as i64 * 37 % 100_000 + 1), 2),
            fitid: format!("FIT{i:010}"),
            correct_fitid: None,
            correct_action: None,
            checknum: (i % 10 == 0).then(|| (1000 + i).to_string()),
            refnum: None,
            sic: None,
            name: Some(format!("Merchant & Co #{}", i % 977)),
            payee_name: None,
            memo: Some(format!("Purchase reference {i}")),
            currency: None,
        })
        .collect();
    let statement = Statement {
        currency: "USD".into(),
        account: AccountRef::Bank {
            bank_id: "123456789".into(),
            branch_id: None,
            acct_id: "1000001".into(),
            acct_type: AccountType::Checking,
        },
        // Every field the specification requires is present, so strict parsers accept the file too.
        transactions: Some(TransactionList {
            dtstart: Some(OfxDate::Date(day(0))),
            dtend: Some(OfxDate::Date(day(1499))),
            transactions,
        }),
        ledger_balance: Some(Balance { amount: Decimal::new(123_456, 2), dtasof: Some(OfxDate::Date(day(1499))) }),
        available_balance: None,
    };
    let signon = SignonResponse::ok(OfxDate::Date(time::macros::date!(2024 - 01 - 06)));
    let mut response = Response::new(version, signon);
    response.bank_statements = vec![TrnRs { trnuid: "bench".into(), status: Status::ok(), body: Some(statement) }];
    response
}
