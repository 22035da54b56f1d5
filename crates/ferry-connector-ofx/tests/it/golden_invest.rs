//! The investment golden file: positions, transactions of several kinds, balances and the
//! security list they are joined with.

use ferry_connector_ofx::*;

use crate::{day, dec, golden, utc};

fn cusip(id: &str) -> SecId {
    SecId { unique_id: id.into(), unique_id_type: "CUSIP".into() }
}

#[test]
fn investment_statement_positions_transactions_balance_and_seclist() {
    let r = parse_response(&golden("invstmt_v220.ofx")).unwrap();
    let trn = &r.investment_statements[0];
    assert_eq!(trn.trnuid, "inv-1");
    let stmt = trn.body.as_ref().unwrap();
    assert_eq!(stmt.dtasof, Some(utc(2024, 3, 15, 20, 0, 0)));
    assert_eq!(stmt.currency, "USD");
    assert_eq!(
        stmt.account,
        AccountRef::Investment { broker_id: "broker.example.com".into(), acct_id: "ZX-998877".into() }
    );

    let list = stmt.transactions.as_ref().unwrap();
    let kinds: Vec<&str> = list.transactions.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["BUYSTOCK", "INCOME", "REINVEST", "SELLMF", "INVBANKTRAN"]);
    let buy = &list.transactions[0];
    assert_eq!(buy.fitid, "T-100");
    assert_eq!(buy.dttrade, Some(utc(2024, 1, 10, 19, 30, 0)));
    assert_eq!(buy.dtsettle, Some(day(2024, 1, 12)));
    assert_eq!(buy.memo.as_deref(), Some("Bought widgets"));
    assert_eq!(buy.secid, Some(cusip("999999101")));
    assert_eq!(buy.units, Some(dec("10")));
    assert_eq!(buy.unit_price, Some(dec("101.25")));
    assert_eq!(buy.total, Some(dec("-1017.45")));
    assert_eq!(buy.subacct.as_deref(), Some("CASH"));
    assert_eq!(buy.subtype.as_deref(), Some("BUY"));
    let income = &list.transactions[1];
    assert_eq!(income.subtype.as_deref(), Some("DIV"));
    assert_eq!(income.total, Some(dec("3.20")));
    assert_eq!(income.units, None);
    let reinvest = &list.transactions[2];
    assert_eq!(reinvest.units, Some(dec("0.4321")));
    assert_eq!(reinvest.unit_price, Some(dec("27.771")));
    let sell = &list.transactions[3];
    assert_eq!(sell.units, Some(dec("-5")));
    assert_eq!(sell.subtype.as_deref(), Some("SELL"));
    let cash = &list.transactions[4];
    assert_eq!(cash.fitid, "T-104");
    assert_eq!(cash.subacct.as_deref(), Some("CASH"));
    let bank = cash.bank_transaction.as_ref().unwrap();
    assert_eq!(bank.amount, dec("500.00"));
    assert_eq!(bank.dtposted, day(2024, 3, 5));

    assert_eq!(stmt.positions.len(), 2);
    let p = &stmt.positions[0];
    assert_eq!(p.kind, SecurityKind::Stock);
    assert_eq!(p.secid, cusip("999999101"));
    assert_eq!(p.held_in_acct, "CASH");
    assert_eq!(p.postype, "LONG");
    assert_eq!((p.units, p.unit_price, p.mkt_val), (dec("10"), dec("105.50"), dec("1055.00")));
    assert_eq!(p.dtpriceasof, Some(utc(2024, 3, 15, 20, 0, 0)));
    assert_eq!(stmt.positions[1].kind, SecurityKind::MutualFund);
    assert_eq!(stmt.positions[1].dtpriceasof, Some(day(2024, 3, 15)));

    let bal = stmt.balance.as_ref().unwrap();
    assert_eq!((bal.availcash, bal.marginbalance, bal.shortbalance), (dec("2210.33"), dec("0"), dec("0")));

    assert_eq!(r.securities.len(), 2);
    let widget = r.security(&p.secid).unwrap();
    assert_eq!(widget.name, "Widget Works Inc");
    assert_eq!(widget.ticker.as_deref(), Some("WDGT"));
    assert_eq!(widget.unit_price, Some(dec("105.50")));
    let fund = r.security(&cusip("999999202")).unwrap();
    assert_eq!(fund.kind, SecurityKind::MutualFund);
    assert_eq!(fund.name, "Balanced Growth & Income Fund");
}

#[test]
fn investment_statement_round_trips_through_the_response_builder() {
    let r = parse_response(&golden("invstmt_v220.ofx")).unwrap();
    for version in [102, 220] {
        let mut copy = r.clone();
        copy.header = Header::new(version);
        let bytes = write(&copy.to_ofx(), Style::default());
        let back = parse_response(&bytes).unwrap();
        assert_eq!(back.investment_statements, r.investment_statements);
        assert_eq!(back.securities, r.securities);
        assert_eq!(back.signon, r.signon);
    }
}
