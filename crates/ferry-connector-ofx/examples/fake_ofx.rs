//! Runs the fake OFX bank for test drivers outside Rust (the compat suite):
//! `fake_ofx [PORT] [TODAY as YYYY-MM-DD]`; prints `listening on 127.0.0.1:PORT`. Its URL is
//! `http://127.0.0.1:PORT/ofx`, ORG `FAKEBANK`, FID `9999`.

use ferry_connector_ofx::fake::FakeOfxBank;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let today = args
        .next()
        .and_then(|d| time::Date::parse(&d, &format).ok())
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
    let bank = FakeOfxBank::start(today, port).await?;
    println!("listening on {}", bank.addr);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
