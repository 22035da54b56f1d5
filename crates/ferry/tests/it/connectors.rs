//! Real institutions through the real binary: a catalog imported from a TOML file with
//! `ferry institutions import`, and the address policy: a SimpleFIN setup token or an OFX
//! server on loopback is refused with a clear message unless `FERRY_CONNECTORS_ALLOW_LOOPBACK=1`.

use serde_json::{Value, json};

use crate::support::*;

/// The fake SimpleFIN server and OFX bank, on a runtime of their own (these tests are sync).
struct Fakes {
    simplefin: ferry_connector_simplefin::fake::FakeSimpleFin,
    ofx: ferry_connector_ofx::fake::FakeOfxBank,
    _runtime: tokio::runtime::Runtime,
}

fn fakes() -> Fakes {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let today = time::OffsetDateTime::now_utc().date();
    let simplefin = runtime.block_on(ferry_connector_simplefin::fake::FakeSimpleFin::start(today, 0)).unwrap();
    let ofx = runtime.block_on(ferry_connector_ofx::fake::FakeOfxBank::start(today, 0)).unwrap();
    Fakes { simplefin, ofx, _runtime: runtime }
}

fn create_member(server: &Server, auth: &str, user: &str, code: &str, values: &[(&str, &str)]) -> String {
    let (_, fields) = server.request("GET", &format!("/institutions/{code}/credentials"), auth, None);
    let credentials: Vec<Value> = fields["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let value = values.iter().find(|(name, _)| f["field_name"] == *name).map(|(_, v)| *v).unwrap();
            json!({"guid": f["guid"], "value": value})
        })
        .collect();
    let body = json!({"member": {"institution_code": code, "credentials": credentials}});
    let (status, body) = server.request("POST", &format!("/users/{user}/members"), auth, Some(&body));
    assert_eq!(status, 202, "{body}");
    body["member"]["guid"].as_str().unwrap().to_owned()
}

fn settled(server: &Server, auth: &str, user: &str, member: &str) -> Value {
    wait_for(server, auth, &format!("/users/{user}/members/{member}"), 30, |m| m["is_being_aggregated"] == false)
}

#[test]
fn catalogs_import_from_toml_and_loopback_is_refused_unless_allowed() {
    let fakes = fakes();
    let dir = temp_dir();
    let db_url = format!("sqlite://{}", dir.join("ferry.db").display());
    let (_, auth) = new_client(&db_url, "real", &[]);

    // The catalog file: an OFX bank at the fake, in the README's format.
    let catalog = dir.join("catalog.toml");
    std::fs::write(
        &catalog,
        format!(
            "[[institution]]\ncode = \"fake_bank\"\nname = \"Fake Bank\"\nconnector = \"ofx\"\nurl = \"https://fakebank.example\"\nofx_url = \"{}\"\norg = \"FAKEBANK\"\nfid = \"9999\"\nofx_version = 220\n",
            fakes.ofx.url()
        ),
    )
    .unwrap();
    let out = ferry(&db_url).args(["institutions", "import"]).arg(&catalog).arg("--json").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let imported: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(imported["imported"][0]["code"], "fake_bank");
    assert_eq!(imported["imported"][0]["created"], true);
    let out = ferry(&db_url).args(["institutions", "list", "--json"]).output().unwrap();
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> =
        listed["institutions"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"fake_bank") && codes.contains(&"simplefin"), "{codes:?}");

    // A file with a mistake says where, and changes nothing.
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[institution]]\ncode = \"x\"\nname = \"X\"\nconnector = \"ofx\"\nofx_url = \"https://x\"\norg = \"A\"\n",
    )
    .unwrap();
    let out = ferry(&db_url).args(["institutions", "import"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("institution `x`") && stderr.contains("fid"), "{stderr}");

    // Without the operator's permission, loopback addresses are refused with a clear message.
    let log = dir.join("strict.log");
    let server = Server::start(&db_url, &log);
    let (_, user) = server.request("POST", "/users", &auth, Some(&json!({"user": {}})));
    let user = user["user"]["guid"].as_str().unwrap().to_owned();
    let token = fakes.simplefin.setup_token("alice");
    let sfin = create_member(&server, &auth, &user, "simplefin", &[("setup_token", &token)]);
    let m = settled(&server, &auth, &user, &sfin);
    assert_eq!(m["connection_status"], "DENIED", "{m}");
    let message = m["connection_status_message"].as_str().unwrap();
    assert!(message.contains("loopback") && message.contains("FERRY_CONNECTORS_ALLOW_LOOPBACK"), "{message}");
    assert_eq!(fakes.simplefin.claimed(), 0, "nothing was called");
    let bank = create_member(&server, &auth, &user, "fake_bank", &[("LOGIN", "alice"), ("PASSWORD", "s3cret")]);
    let m = settled(&server, &auth, &user, &bank);
    assert_eq!(m["connection_status"], "FAILED", "{m}");
    assert!(m["connection_status_message"].as_str().unwrap().contains("loopback"), "{m}");
    assert!(fakes.ofx.seen().is_empty(), "nothing was called");
    drop(server);

    // Allowed: both connect.
    let log = dir.join("allowed.log");
    let server = Server::start_with(&db_url, &log, &[("FERRY_CONNECTORS_ALLOW_LOOPBACK", "1")]);
    let (_, other) = server.request("POST", "/users", &auth, Some(&json!({"user": {}})));
    let other = other["user"]["guid"].as_str().unwrap().to_owned();
    let token = fakes.simplefin.setup_token("alice");
    let sfin = create_member(&server, &auth, &other, "simplefin", &[("setup_token", &token)]);
    assert_eq!(settled(&server, &auth, &other, &sfin)["connection_status"], "CONNECTED");
    let bank = create_member(&server, &auth, &other, "fake_bank", &[("LOGIN", "alice"), ("PASSWORD", "s3cret")]);
    assert_eq!(settled(&server, &auth, &other, &bank)["connection_status"], "CONNECTED");
    let (_, accounts) = server.request("GET", &format!("/users/{other}/members/{bank}/accounts"), &auth, None);
    assert_eq!(accounts["accounts"].as_array().unwrap().len(), 2, "{accounts}");

    // Neither the setup token nor the access URL nor the OFX password is in the log.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains(&token) && !logged.contains("s3cr3t-") && !logged.contains("s3cret"), "secrets logged");
    drop(server);

    // Removal is refused while members use the institution.
    let out = ferry(&db_url).args(["institutions", "remove", "fake_bank"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("member"), "{out:?}");
}
