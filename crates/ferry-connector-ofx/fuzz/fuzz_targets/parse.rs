//! Feeds arbitrary bytes to every entry point that reads OFX; any panic, hang or overflow is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ferry_connector_ofx::parse(data);
    let _ = ferry_connector_ofx::parse_response(data);
    let _ = ferry_connector_ofx::parse_request(data);
    // What was read must also be writable and read back the same.
    if let Ok(ofx) = ferry_connector_ofx::parse(data) {
        let style = ferry_connector_ofx::Style { closed_leaves: true, pretty: false };
        let again = ferry_connector_ofx::parse(&ferry_connector_ofx::write(&ofx, style));
        assert_eq!(again.map(|o| o.root).ok(), Some(ofx.root));
    }
});
