//! The catalog file an operator imports (`ferry institutions import FILE`): TOML, one
//! `[[institution]]` table per institution. The keys every institution has are read here;
//! the rest are the connector's settings, which the connector checks.
//!
//! ```toml
//! [[institution]]
//! code = "example_cu"
//! name = "Example Credit Union"
//! connector = "ofx"
//! url = "https://www.example-cu.org"
//! ofx_url = "https://ofx.example-cu.org/ofx"
//! org = "EXCU"
//! fid = "12345"
//! ofx_version = 220
//! ```

use anyhow::{Result, bail};
use ferry_core::{Imported, InstitutionImport};
use ferry_domain::Institution;
use serde_json::{Value, json};

/// The keys every institution may have; any other key belongs to its connector.
const COMMON: &[&str] =
    &["code", "name", "connector", "url", "logo_url", "forgot_password_url", "instructions", "iso_country_code"];

/// Reads a catalog file into institutions to import.
pub fn parse_toml(text: &str) -> Result<Vec<InstitutionImport>> {
    let doc: toml::Table = toml::from_str(text)?;
    for key in doc.keys() {
        if key != "institution" {
            bail!("unknown top-level key `{key}`: institutions are `[[institution]]` tables");
        }
    }
    let Some(list) = doc.get("institution") else {
        bail!("the file has no `[[institution]]` table");
    };
    let Some(list) = list.as_array() else {
        bail!("`institution` must be a list of tables: write each one as `[[institution]]`");
    };
    list.iter()
        .enumerate()
        .map(|(n, item)| {
            let Some(table) = item.as_table() else {
                bail!("institution #{} is not a table", n + 1);
            };
            parse_item(table).map_err(|e| anyhow::anyhow!("institution #{}: {e}", n + 1))
        })
        .collect()
}

fn parse_item(t: &toml::Table) -> Result<InstitutionImport> {
    let text = |key: &str| -> Result<Option<String>> {
        match t.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => bail!("`{key}` must be a string"),
        }
    };
    let required = |key: &str| -> Result<String> {
        text(key)?.filter(|s| !s.trim().is_empty()).ok_or_else(|| anyhow::anyhow!("`{key}` is required"))
    };
    let mut config = serde_json::Map::new();
    for (k, v) in t {
        if !COMMON.contains(&k.as_str()) {
            config.insert(k.clone(), to_json(v)?);
        }
    }
    Ok(InstitutionImport {
        code: required("code")?,
        name: required("name")?,
        connector: required("connector")?,
        url: text("url")?,
        logo_url: text("logo_url")?,
        forgot_password_url: text("forgot_password_url")?,
        instructions: text("instructions")?,
        iso_country_code: text("iso_country_code")?,
        config,
    })
}

fn to_json(v: &toml::Value) -> Result<Value> {
    Ok(match v {
        toml::Value::String(s) => json!(s),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Boolean(b) => json!(b),
        toml::Value::Float(_) => bail!("numbers with a fraction are not settings any connector takes"),
        toml::Value::Datetime(d) => json!(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(to_json).collect::<Result<_>>()?),
        toml::Value::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| Ok((k.clone(), to_json(v)?))).collect::<Result<_>>()?)
        }
    })
}

/// Converts an ofxget-style INI file (`[nickname]` sections with `url`, `version`, `org`,
/// `fid`, `brokerid` and quirk flags; an optional `[NAMES]` section of display names by
/// `ofxhome` id) into a TOML catalog. Sections without a URL, ORG and FID are listed as skipped
/// comments. Returns the TOML text.
pub fn convert_ofxget(ini: &str) -> String {
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in ini.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push((name.trim().to_owned(), Vec::new()));
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else { continue };
        if let Some((_, entries)) = sections.last_mut() {
            entries.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let names: std::collections::HashMap<String, String> =
        sections.iter().filter(|(n, _)| n.eq_ignore_ascii_case("names")).flat_map(|(_, e)| e.iter().cloned()).collect();
    let truthy = |v: &str| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1");
    let mut out = String::from(
        "# Converted by `ferry institutions convert-ofxget`. Review before importing:
# the source data may be stale.
",
    );
    let mut used = std::collections::HashSet::new();
    for (section, entries) in &sections {
        if section.eq_ignore_ascii_case("names") || section.eq_ignore_ascii_case("default") {
            continue;
        }
        let get = |k: &str| entries.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
        let (Some(url), Some(org), Some(fid)) = (get("url"), get("org"), get("fid")) else {
            out.push_str(&format!("\n# skipped [{section}]: it has no url, org and fid\n"));
            continue;
        };
        let mut code: String = section
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
            .take(60)
            .collect();
        while !used.insert(code.clone()) {
            code.push('_');
        }
        let mut t = toml::Table::new();
        t.insert("code".into(), code.into());
        let name = get("ofxhome").and_then(|id| names.get(id)).map(String::as_str).unwrap_or(section);
        t.insert("name".into(), name.to_owned().into());
        t.insert("connector".into(), "ofx".into());
        t.insert("ofx_url".into(), url.to_owned().into());
        t.insert("org".into(), org.to_owned().into());
        t.insert("fid".into(), fid.to_owned().into());
        if let Some(v) = get("version").and_then(|v| v.parse::<i64>().ok()) {
            t.insert("ofx_version".into(), v.into());
        }
        for (from, to) in
            [("brokerid", "broker_id"), ("useragent", "user_agent"), ("appid", "app_id"), ("appver", "app_ver")]
        {
            if let Some(v) = get(from) {
                t.insert(to.into(), v.to_owned().into());
            }
        }
        for (from, to) in
            [("unclosedelements", "unclosed_elements"), ("pretty", "pretty"), ("nonewfileuid", "no_new_file_uid")]
        {
            if get(from).is_some_and(truthy) {
                t.insert(to.into(), true.into());
            }
        }
        if let Some(v) = get("clientuid") {
            t.insert("client_uid".into(), truthy(v).into());
        }
        let mut doc = toml::Table::new();
        doc.insert("institution".into(), toml::Value::Array(vec![toml::Value::Table(t)]));
        out.push('\n');
        out.push_str(&toml::to_string(&doc).unwrap_or_default());
    }
    out
}

pub fn print_imported(imported: &[Imported], as_json: bool) {
    if as_json {
        let items: Vec<Value> =
            imported.iter().map(|i| json!({"code": i.code, "guid": i.guid.as_str(), "created": i.created})).collect();
        println!("{}", json!({ "imported": items }));
        return;
    }
    for i in imported {
        println!("{} {} ({})", if i.created { "added" } else { "updated" }, i.code, i.guid);
    }
    println!("{} institution(s) imported", imported.len());
}

pub fn print_list(catalog: &[Institution], as_json: bool) {
    if as_json {
        let items: Vec<Value> = catalog
            .iter()
            .map(|i| {
                json!({
                    "code": i.code, "guid": i.guid.as_str(), "name": i.name, "connector": i.connector,
                    "url": i.url, "is_hidden": i.is_hidden,
                    "supported_products": i.supported_products.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
                    "settings": i.connector_config,
                })
            })
            .collect();
        println!("{}", json!({ "institutions": items }));
        return;
    }
    for i in catalog {
        println!("{:<24} {:<10} {}{}", i.code, i.connector, i.name, if i.is_hidden { " (hidden)" } else { "" });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn common_keys_are_read_and_the_rest_are_settings() {
        let items = parse_toml(
            r#"
            [[institution]]
            code = "example_cu"
            name = "Example Credit Union"
            connector = "ofx"
            ofx_url = "https://ofx.example-cu.org/ofx"
            fid = "12345"
            ofx_version = 220
            unclosed_elements = true
            "#,
        )
        .unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].code, "example_cu");
        assert_eq!(items[0].config.get("ofx_version"), Some(&json!(220)));
        assert_eq!(items[0].config.get("unclosed_elements"), Some(&json!(true)));
        assert!(!items[0].config.contains_key("name"));
    }

    #[test]
    fn ofxget_ini_files_convert_to_a_catalog_ferry_reads() {
        let ini = "[chase]\nurl = https://ofx.chase.com\nversion = 220\norg = B1\nfid = 10898\nofxhome = 636\nclientuid = true\n\n\
                   [usaa]\nurl: https://service2.usaa.com/ofx/OFXServlet\nversion = 103\norg = USAA\nfid = 24591\nunclosedelements = true\npretty = true\n\n\
                   [Odd Name!]\norg = X\n\n[NAMES]\n636 = Chase (credit cards)\n";
        let toml = convert_ofxget(ini);
        let items = parse_toml(&toml).unwrap();
        assert_eq!(items.len(), 2, "{toml}");
        assert_eq!(items[0].code, "chase");
        assert_eq!(items[0].name, "Chase (credit cards)");
        assert_eq!(items[0].config.get("ofx_version"), Some(&json!(220)));
        assert_eq!(items[0].config.get("client_uid"), Some(&json!(true)));
        assert_eq!(items[1].config.get("unclosed_elements"), Some(&json!(true)));
        assert!(toml.contains("# skipped [Odd Name!]"), "{toml}");
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let err = |t: &str| parse_toml(t).unwrap_err().to_string();
        assert!(err("").contains("no `[[institution]]`"));
        assert!(err("[institution]\ncode='x'").contains("list of tables"));
        assert!(err("[[institution]]\nname='X'\nconnector='ofx'").contains("`code` is required"));
        assert!(err("[[institution]]\ncode=1\nname='X'\nconnector='ofx'").contains("`code` must be a string"));
        assert!(err("[[bank]]\ncode='x'").contains("unknown top-level key"));
        assert!(err("[[institution]\n").contains("TOML") || !err("[[institution]\n").is_empty());
    }
}
