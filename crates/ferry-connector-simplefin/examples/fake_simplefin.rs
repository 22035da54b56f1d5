//! Runs the fake SimpleFIN server for test drivers outside Rust (the compat suite):
//! `fake_simplefin [PORT] [TODAY as YYYY-MM-DD]`; prints `listening on 127.0.0.1:PORT`.

use ferry_connector_simplefin::fake::FakeSimpleFin;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let today = args
        .next()
        .and_then(|d| time::Date::parse(&d, &format).ok())
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
    let fake = FakeSimpleFin::start(today, port).await?;
    println!("listening on {}", fake.addr);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
