//! SimpleFIN's JSON, as servers send it: protocol 1.x (`errors`, accounts with their `org`) and
//! the 2.x draft (`errlist`, `connections`, accounts joined to them on `conn_id`), read into one
//! shape. Money stays text until it is parsed as an exact decimal; nothing here is a float.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Deserialize;

/// An Account Set, v1 or v2.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AccountSet {
    #[serde(default)]
    pub(crate) errors: Vec<String>,
    #[serde(default)]
    pub(crate) errlist: Vec<ErrorItem>,
    #[serde(default)]
    pub(crate) connections: Vec<Connection>,
    #[serde(default)]
    pub(crate) accounts: Vec<Account>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorItem {
    #[serde(default)]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) conn_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Connection {
    pub(crate) conn_id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) org_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Org {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) domain: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Account {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) org: Option<Org>,
    #[serde(default)]
    pub(crate) conn_id: Option<String>,
    #[serde(default)]
    pub(crate) currency: Option<String>,
    pub(crate) balance: Money,
    #[serde(default, rename = "available-balance")]
    pub(crate) available_balance: Option<Money>,
    #[serde(default)]
    pub(crate) transactions: Vec<Transaction>,
    #[serde(default)]
    pub(crate) holdings: Vec<Holding>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Transaction {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) posted: i64,
    pub(crate) amount: Money,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) payee: Option<String>,
    #[serde(default)]
    pub(crate) memo: Option<String>,
    #[serde(default)]
    pub(crate) transacted_at: Option<i64>,
    #[serde(default)]
    pub(crate) pending: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Holding {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) currency: Option<String>,
    #[serde(default)]
    pub(crate) symbol: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) shares: Option<Money>,
    #[serde(default)]
    pub(crate) purchase_price: Option<Money>,
    #[serde(default)]
    pub(crate) cost_basis: Option<Money>,
    #[serde(default)]
    pub(crate) market_value: Option<Money>,
}

/// An amount as the server wrote it: a string (the protocol's form) or, from lenient servers,
/// a JSON number (its shortest text, which is what the server wrote for any amount of money).
#[derive(Debug, Clone)]
pub(crate) struct Money(pub(crate) String);

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::String(s) => Ok(Money(s)),
            serde_json::Value::Number(n) => Ok(Money(n.to_string())),
            serde_json::Value::Null => Ok(Money(String::new())),
            other => Err(serde::de::Error::custom(format!("an amount must be a string, not {other}"))),
        }
    }
}

impl Money {
    /// The exact decimal, or `None` for an empty or malformed amount.
    pub(crate) fn decimal(&self) -> Option<Decimal> {
        let t = self.0.trim();
        let t = t.strip_prefix('+').unwrap_or(t);
        if t.is_empty() || t.contains(['e', 'E']) {
            return None; // Exponents would need a float: refused.
        }
        t.parse::<Decimal>().ok()
    }
}

impl AccountSet {
    /// Every error message the set carries (v1 strings and v2 items), with the connection it
    /// names when there is one; `gen.*` notices (a capped date range) are left out: the data
    /// is still complete for the window Ferry asks.
    pub(crate) fn problems(&self) -> Vec<(Option<String>, String)> {
        let mut out: Vec<(Option<String>, String)> = self.errors.iter().map(|m| (None, sanitize(m))).collect();
        for e in &self.errlist {
            if e.code.as_deref().is_some_and(|c| c.starts_with("gen.")) {
                continue;
            }
            let message = e.message.as_deref().map(sanitize).unwrap_or_else(|| e.code.clone().unwrap_or_default());
            out.push((e.conn_id.clone(), message));
        }
        out.retain(|(_, m)| !m.is_empty() && !is_range_notice(m));
        out
    }

    /// Organisation names by v2 connection id.
    pub(crate) fn connection_names(&self) -> HashMap<&str, &str> {
        self.connections
            .iter()
            .filter_map(|c| Some((c.conn_id.as_str(), c.org_name.as_deref().or(c.name.as_deref())?)))
            .collect()
    }
}

/// The notice a server adds when it capped a long date range: not a failure.
fn is_range_notice(m: &str) -> bool {
    let l = m.to_ascii_lowercase();
    l.contains("date range") && (l.contains("capped") || l.contains("exceeds"))
}

/// A server's message made safe to show: control characters dropped, at most 300 characters.
pub(crate) fn sanitize(m: &str) -> String {
    m.chars().filter(|c| !c.is_control()).take(300).collect::<String>().trim().to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_decimals_never_floats() {
        assert_eq!(Money("-33.43".into()).decimal(), Some(Decimal::new(-3343, 2)));
        assert_eq!(Money("+5".into()).decimal(), Some(Decimal::new(5, 0)));
        assert_eq!(Money("0.1".into()).decimal().map(|d| d + Decimal::new(2, 1)), Some(Decimal::new(3, 1)));
        assert_eq!(
            Money("123456789012345.6789".into()).decimal().map(|d| d.to_string()).as_deref(),
            Some("123456789012345.6789")
        );
        assert_eq!(Money("1e3".into()).decimal(), None);
        assert_eq!(Money("abc".into()).decimal(), None);
        assert_eq!(Money(String::new()).decimal(), None);
    }

    #[test]
    fn v1_and_v2_account_sets_read_into_one_shape() {
        let v1: AccountSet = serde_json::from_str(
            r#"{"errors":["Connection to Card B may need attention"],"accounts":[{"org":{"name":"Bank A","sfin-url":"x"},"id":"A1","name":"Checking","currency":"USD","balance":"10.00","balance-date":1}]}"#,
        )
        .unwrap();
        assert_eq!(v1.problems(), vec![(None, "Connection to Card B may need attention".to_owned())]);
        assert_eq!(v1.accounts[0].org.as_ref().and_then(|o| o.name.as_deref()), Some("Bank A"));
        let v2: AccountSet = serde_json::from_str(
            r#"{"errlist":[{"code":"gen.api","message":"Requested date range exceeds limit of 90 days and was capped"},{"code":"con.auth","message":"Bad login","conn_id":"CON-2"}],
                "connections":[{"conn_id":"CON-1","name":"Bank A","org_id":"o","org_name":"Bank A","org_url":"u","sfin_url":"s"}],
                "accounts":[{"id":"A1","name":"Checking","conn_id":"CON-1","currency":"USD","balance":"1","balance-date":1}]}"#,
        )
        .unwrap();
        assert_eq!(v2.problems(), vec![(Some("CON-2".to_owned()), "Bad login".to_owned())]);
        assert_eq!(v2.connection_names().get("CON-1"), Some(&"Bank A"));
    }
}
