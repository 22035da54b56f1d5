//! Account identity (`BANKACCTFROM`, `CCACCTFROM`, `INVACCTFROM`) and account discovery
//! (`ACCTINFORS`), shared by requests and responses.

use crate::error::ParseError;
use crate::field::{Agg, flag, ofx_enum, opt, opt_date, req, req_child};
use crate::tree::Element;
use crate::value::OfxDate;

ofx_enum! {
    /// `ACCTTYPE` of a bank account.
    AccountType {
        Checking => "CHECKING",
        Savings => "SAVINGS",
        MoneyMarket => "MONEYMRKT",
        CreditLine => "CREDITLINE",
        Cd => "CD",
    }
}

ofx_enum! {
    /// `SVCSTATUS` of a discovered account; only `ACTIVE` accounts can be downloaded.
    SvcStatus {
        Active => "ACTIVE",
        Available => "AVAIL",
        Pending => "PEND",
    }
}

/// Which account a statement or request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRef {
    /// `BANKACCTFROM`.
    Bank {
        /// `BANKID`, the routing number in the US.
        bank_id: String,
        /// `BRANCHID`, rarely used.
        branch_id: Option<String>,
        /// `ACCTID`.
        acct_id: String,
        /// `ACCTTYPE`.
        acct_type: AccountType,
    },
    /// `CCACCTFROM`.
    CreditCard {
        /// `ACCTID`.
        acct_id: String,
    },
    /// `INVACCTFROM`.
    Investment {
        /// `BROKERID`, usually the broker's domain name.
        broker_id: String,
        /// `ACCTID`.
        acct_id: String,
    },
}

impl AccountRef {
    /// The account number, whatever the kind.
    pub fn acct_id(&self) -> &str {
        match self {
            AccountRef::Bank { acct_id, .. }
            | AccountRef::CreditCard { acct_id }
            | AccountRef::Investment { acct_id, .. } => acct_id,
        }
    }

    /// Reads a `BANKACCTFROM`, `CCACCTFROM` or `INVACCTFROM` element (the `…TO` forms too).
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        let acct_id = req(el, "ACCTID")?.to_owned();
        match el.name.as_str() {
            "BANKACCTFROM" | "BANKACCTTO" => Ok(AccountRef::Bank {
                bank_id: req(el, "BANKID")?.to_owned(),
                branch_id: opt(el, "BRANCHID"),
                acct_id,
                acct_type: AccountType::parse(req(el, "ACCTTYPE")?),
            }),
            "CCACCTFROM" | "CCACCTTO" => Ok(AccountRef::CreditCard { acct_id }),
            "INVACCTFROM" => Ok(AccountRef::Investment { broker_id: req(el, "BROKERID")?.to_owned(), acct_id }),
            other => Err(ParseError::invalid(other, "", "not an account aggregate")),
        }
    }

    /// Finds and reads the first account aggregate among `el`'s children.
    pub(crate) fn find_in(el: &Element) -> Result<Self, ParseError> {
        ["BANKACCTFROM", "CCACCTFROM", "INVACCTFROM"]
            .iter()
            .find_map(|n| el.child(n))
            .ok_or_else(|| ParseError::Missing(format!("{}/account", el.name)))
            .and_then(Self::from_element)
    }

    /// Writes the `…ACCTFROM` element.
    pub fn to_element(&self) -> Element {
        match self {
            AccountRef::Bank { bank_id, branch_id, acct_id, acct_type } => Agg::new()
                .leaf("BANKID", bank_id)
                .opt("BRANCHID", branch_id.as_ref())
                .leaf("ACCTID", acct_id)
                .leaf("ACCTTYPE", acct_type.as_str())
                .build("BANKACCTFROM"),
            AccountRef::CreditCard { acct_id } => Agg::new().leaf("ACCTID", acct_id).build("CCACCTFROM"),
            AccountRef::Investment { broker_id, acct_id } => {
                Agg::new().leaf("BROKERID", broker_id).leaf("ACCTID", acct_id).build("INVACCTFROM")
            }
        }
    }
}

/// One account found by `ACCTINFORQ`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// The account's identity, to be used in statement requests.
    pub account: AccountRef,
    /// `DESC`, the institution's name for the account.
    pub desc: Option<String>,
    /// `PHONE`.
    pub phone: Option<String>,
    /// `SVCSTATUS`; `None` when the server left it out.
    pub svc_status: Option<SvcStatus>,
    /// `SUPTXDL`. Investment accounts have no such flag and read as true; an absent flag on a
    /// bank or card account reads as true too, since servers that omit it still answer.
    pub supports_download: bool,
}

impl AccountInfo {
    /// True when statements can be downloaded: active and supporting download.
    pub fn is_downloadable(&self) -> bool {
        self.svc_status == Some(SvcStatus::Active) && self.supports_download
    }
}

/// An `ACCTINFORS`: when the list was last updated, and the accounts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountInfoList {
    /// `DTACCTUP`.
    pub dtacctup: Option<OfxDate>,
    /// Every account of every `ACCTINFO`.
    pub accounts: Vec<AccountInfo>,
}

const INFO_KINDS: [(&str, &str); 3] =
    [("BANKACCTINFO", "BANKACCTFROM"), ("CCACCTINFO", "CCACCTFROM"), ("INVACCTINFO", "INVACCTFROM")];

impl AccountInfoList {
    /// Reads an `ACCTINFORS`. `ACCTINFO` entries for other services (bill pay, say) are skipped.
    pub fn from_element(el: &Element) -> Result<Self, ParseError> {
        let mut accounts = Vec::new();
        for info in el.children("ACCTINFO") {
            for (kind, from) in INFO_KINDS {
                for sub in info.children(kind) {
                    accounts.push(AccountInfo {
                        account: AccountRef::from_element(req_child(sub, from)?)?,
                        desc: opt(info, "DESC"),
                        phone: opt(info, "PHONE"),
                        svc_status: sub.text("SVCSTATUS").map(SvcStatus::parse),
                        supports_download: flag(sub, "SUPTXDL", true)?,
                    });
                }
            }
        }
        Ok(AccountInfoList { dtacctup: opt_date(el, "DTACCTUP")?, accounts })
    }

    /// Writes the `ACCTINFORS` element, one `ACCTINFO` per account.
    pub fn to_element(&self) -> Element {
        let infos = self.accounts.iter().map(|a| {
            let status = a.svc_status.as_ref().map(SvcStatus::as_str);
            let sub = match &a.account {
                AccountRef::Investment { .. } => Agg::new()
                    .child(a.account.to_element())
                    .leaf("USPRODUCTTYPE", "NORMAL")
                    .flag("CHECKING", false)
                    .opt("SVCSTATUS", status)
                    .build("INVACCTINFO"),
                other => Agg::new()
                    .child(other.to_element())
                    .flag("SUPTXDL", a.supports_download)
                    .flag("XFERSRC", false)
                    .flag("XFERDEST", false)
                    .opt("SVCSTATUS", status)
                    .build(if matches!(other, AccountRef::Bank { .. }) { "BANKACCTINFO" } else { "CCACCTINFO" }),
            };
            Agg::new().opt("DESC", a.desc.as_ref()).opt("PHONE", a.phone.as_ref()).child(sub).build("ACCTINFO")
        });
        Agg::new().opt("DTACCTUP", self.dtacctup).children(infos).build("ACCTINFORS")
    }
}
