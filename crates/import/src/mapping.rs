//! `--map auto`: which of a foreign export's columns feed which of ours.
//!
//! The exports people bring are kept as data, one entry per documented
//! column that means something to Roster, each format citing where its
//! header comes from. Headers are matched on a loose key (letters and
//! digits, lowercased), so `E-mail Address`, `Email Address` and
//! `email_address` are one column. [`suggest_mapping`] is a pure function of
//! the header: the CLI, the HTTP API and the web UI's mapping step use the
//! same answer.

use serde::Serialize;

/// What a known foreign column means to Roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    /// The contact's (primary) email address.
    Email,
    /// A cell that may hold several addresses joined by this separator (as
    /// Google Contacts writes ` ::: ` between the values of one field): the
    /// first address is the contact's.
    EmailList(&'static str),
    FirstName,
    LastName,
    /// A single full-name column: it goes whole into `first_name` when the
    /// file has no first-name column (splitting names guesses wrong too
    /// often: "Mary Ann Smith", "Ludwig van Beethoven").
    FullName,
    /// Known, but Roster has nowhere to put it; why.
    Skip(&'static str),
}

use Meaning::{Email, EmailList, FirstName, FullName, LastName, Skip};

/// How Google Contacts joins several values in one cell.
const GOOGLE_VALUES: &str = " ::: ";

const SECOND_EMAIL: &str = "another email address; Roster keeps one email per contact";
const COMPANY_NAME: &str = "a company name; Roster's company_id is the id `roster companies list` shows, so set companies after the import or map an id column";
const GOOGLE_LABELS: &str = "Google Contacts group labels (such as '* myContacts ::: Friends'), not Roster labels; add labels with a `labels` column of ':'-separated names";
const TAGS: &str = "tags in that tool's own format; add Roster labels with a `labels` column of ':'-separated names";
const OTHER: &str = "not a column Roster knows";
const EMAIL_META: &str = "describes an email address (its type or label), not the address";

/// One export format: its name and the columns of its header that mean
/// something to Roster. Columns not listed are ignored.
pub struct Format {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Meaning)],
}

/// The exports `--map auto` recognises.
pub const FORMATS: &[Format] = &[
    // Google Contacts, current layout: contacts.google.com → Export → "Google
    // CSV". Source: the header as that export writes it, reproduced verbatim
    // in public code and test fixtures that read or write it (Google's help
    // pages describe the export, not its columns): First Name,Middle Name,Last Name,
    // Phonetic First Name,…,Nickname,File As,Organization Name,Organization
    // Title,Organization Department,Birthday,Notes,Photo,Labels,E-mail 1 -
    // Label,E-mail 1 - Value,E-mail 2 - Label,E-mail 2 - Value,Phone 1 -
    // Label,Phone 1 - Value,…
    Format {
        name: "Google Contacts",
        columns: &[
            ("First Name", FirstName),
            ("Last Name", LastName),
            ("E-mail 1 - Value", EmailList(GOOGLE_VALUES)),
            ("E-mail 1 - Label", Skip(EMAIL_META)),
            ("E-mail 2 - Value", Skip(SECOND_EMAIL)),
            ("E-mail 2 - Label", Skip(EMAIL_META)),
            ("E-mail 3 - Value", Skip(SECOND_EMAIL)),
            ("E-mail 3 - Label", Skip(EMAIL_META)),
            ("Labels", Skip(GOOGLE_LABELS)),
            ("Organization Name", Skip(COMPANY_NAME)),
        ],
    },
    // Google Contacts, legacy layout (the "Google CSV" of the old Contacts
    // manager, still produced by many tools that write for Google). Source:
    // the header as reproduced verbatim in public code that writes it: Name,
    // Given Name,Additional Name,Family Name,Yomi Name,…,Notes,Group
    // Membership,E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 -
    // Value,Phone 1 - Type,Phone 1 - Value,…,Organization 1 - Name,…
    Format {
        name: "Google Contacts (legacy)",
        columns: &[
            ("Name", FullName),
            ("Given Name", FirstName),
            ("Family Name", LastName),
            ("E-mail 1 - Value", EmailList(GOOGLE_VALUES)),
            ("E-mail 1 - Type", Skip(EMAIL_META)),
            ("E-mail 2 - Value", Skip(SECOND_EMAIL)),
            ("E-mail 2 - Type", Skip(EMAIL_META)),
            ("E-mail 3 - Value", Skip(SECOND_EMAIL)),
            ("E-mail 3 - Type", Skip(EMAIL_META)),
            ("Group Membership", Skip(GOOGLE_LABELS)),
            ("Organization 1 - Name", Skip(COMPANY_NAME)),
        ],
    },
    // Outlook desktop: File → Open & Export → Import/Export → Export to a
    // file → Comma Separated Values. Source: the wizard's header as
    // reproduced verbatim in public code and fixtures: Title,First
    // Name,Middle Name,Last Name,Suffix,Company,Department,Job Title,Business
    // Street,…,E-mail Address,E-mail Type,E-mail Display Name,E-mail 2
    // Address,E-mail 2 Type,E-mail 2 Display Name,E-mail 3 Address,…
    Format {
        name: "Outlook",
        columns: &[
            ("First Name", FirstName),
            ("Last Name", LastName),
            ("E-mail Address", Email),
            ("E-mail Type", Skip(EMAIL_META)),
            ("E-mail Display Name", Skip(EMAIL_META)),
            ("E-mail 2 Address", Skip(SECOND_EMAIL)),
            ("E-mail 2 Type", Skip(EMAIL_META)),
            ("E-mail 2 Display Name", Skip(EMAIL_META)),
            ("E-mail 3 Address", Skip(SECOND_EMAIL)),
            ("E-mail 3 Type", Skip(EMAIL_META)),
            ("E-mail 3 Display Name", Skip(EMAIL_META)),
            ("Company", Skip(COMPANY_NAME)),
            ("Categories", Skip(TAGS)),
        ],
    },
    // Outlook.com (outlook.live.com/people → Manage → Export contacts).
    // Source: the header a public importer documents as "from
    // outlook.live.com": First Name,Middle Name,Last Name,Title,Suffix,Nickname,Given Yomi,
    // Surname Yomi,E-mail Address,E-mail 2 Address,E-mail 3 Address,Home
    // Phone,…,Job Title,Department,Company,…,Categories,…
    Format {
        name: "Outlook.com",
        columns: &[
            ("First Name", FirstName),
            ("Last Name", LastName),
            ("E-mail Address", Email),
            ("E-mail 2 Address", Skip(SECOND_EMAIL)),
            ("E-mail 3 Address", Skip(SECOND_EMAIL)),
            ("Company", Skip(COMPANY_NAME)),
            ("Categories", Skip(TAGS)),
        ],
    },
    // HubSpot: Contacts → Export, one column per property by its label.
    // Source: HubSpot contact exports reproduced in public test fixtures:
    // Record ID,First Name,Last Name,Email,Phone Number,Lead Status,Create
    // Date,Associated Company,Country/Region,Contact owner,…
    Format {
        name: "HubSpot",
        columns: &[
            ("Record ID", Skip("HubSpot's own record id")),
            ("First Name", FirstName),
            ("Last Name", LastName),
            ("Email", Email),
            ("Associated Company", Skip(COMPANY_NAME)),
            ("Company Name", Skip(COMPANY_NAME)),
        ],
    },
    // Mailchimp: Audience → Export audience: the audience's merge fields by
    // label, then Mailchimp's own. Source: Mailchimp exports reproduced in
    // many public fixtures: Email Address,First Name,Last Name,Address,Phone Number,Birthday,
    // MEMBER_RATING,OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,
    // LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,LAST_CHANGED,LEID,EUID,
    // NOTES,TAGS
    Format {
        name: "Mailchimp",
        columns: &[
            ("Email Address", Email),
            ("First Name", FirstName),
            ("Last Name", LastName),
            ("TAGS", Skip(TAGS)),
        ],
    },
    // Zendesk Support users (support.zendesk.com/hc/en-us/articles/
    // 4408893496218, "Bulk importing users"; the users export uses the same
    // names): name,email,external_id,details,notes,phone,role,restriction,
    // organization,tags,…
    Format {
        name: "Zendesk",
        columns: &[
            ("name", FullName),
            ("email", Email),
            ("external_id", Skip(OTHER)),
            ("details", Skip(OTHER)),
            ("notes", Skip(OTHER)),
            ("phone", Skip(OTHER)),
            ("role", Skip(OTHER)),
            ("restriction", Skip(OTHER)),
            ("organization", Skip(COMPANY_NAME)),
            ("tags", Skip(TAGS)),
        ],
    },
    // Intercom people. Source: intercom.com/help, "Import your user data
    // into Intercom" (a CSV with email, `user_id` "lowercase with
    // underscore", name and signed-up date); the title-case spellings
    // (Name, Email, User ID, Company name, Tags) are how Intercom labels
    // those attributes, assumed for its people export.
    Format {
        name: "Intercom",
        columns: &[
            ("Name", FullName),
            ("Email", Email),
            ("User ID", Skip("Intercom's own user id")),
            ("name", FullName),
            ("email", Email),
            ("user_id", Skip("Intercom's own user id")),
            ("signed_up_at", Skip(OTHER)),
            ("Company name", Skip(COMPANY_NAME)),
            ("Tags", Skip(TAGS)),
        ],
    },
    // Freshdesk contacts (support.freshdesk.com, article 203410 "Manage your
    // customer data schema": Full name, Title, Email, Work phone, Mobile
    // phone, Twitter, Unique external ID, Company, Address, Tags, About;
    // `Name` for the full name is assumed for the contacts export).
    Format {
        name: "Freshdesk",
        columns: &[
            ("Full name", FullName),
            ("Name", FullName),
            ("Email", Email),
            ("Company", Skip(COMPANY_NAME)),
            ("Tags", Skip(TAGS)),
        ],
    },
    // Zammad users (Zammad admin documentation, "Import users with CSV":
    // login,firstname,lastname,email,web,active,… from the example CSV the
    // import screen offers).
    Format {
        name: "Zammad",
        columns: &[
            ("firstname", FirstName),
            ("lastname", LastName),
            ("email", Email),
            ("organization", Skip(COMPANY_NAME)),
        ],
    },
    // Chatwoot contacts: the export's default columns are id,name,email,
    // phone_number (app/jobs/account/contacts_export_job.rb in
    // chatwoot/chatwoot); its import takes name,email,phone_number,
    // identifier,… and first_name/last_name (spec/assets/contacts.csv).
    Format {
        name: "Chatwoot",
        columns: &[
            ("id", Skip("Chatwoot's own contact id")),
            ("name", FullName),
            ("email", Email),
            ("phone_number", Skip(OTHER)),
            ("identifier", Skip(OTHER)),
            ("first_name", FirstName),
            ("last_name", LastName),
            ("company_name", Skip(COMPANY_NAME)),
        ],
    },
    // Common spellings of the same columns in hand-made sheets and other
    // tools' exports.
    Format {
        name: "common synonyms",
        columns: &[
            ("E-mail", Email),
            ("Mail", Email),
            ("Email Address", Email),
            ("E-mail Address", Email),
            ("Email 1", Email),
            ("Primary Email", Email),
            ("Given Name", FirstName),
            ("Forename", FirstName),
            ("First", FirstName),
            ("Surname", LastName),
            ("Family Name", LastName),
            ("Last", LastName),
            ("Full Name", FullName),
            ("Display Name", FullName),
            ("Contact Name", FullName),
        ],
    },
];

/// The loose key headers are matched on: letters and digits, lowercased.
pub fn key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// What `--map auto` does with one column of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    /// The column as written (trimmed).
    pub column: String,
    /// The column of ours it feeds (its own name when it already is ours),
    /// or None when it is ignored.
    pub to: Option<String>,
    /// Why it is mapped or ignored, for the report and the web UI.
    pub reason: String,
    /// For the email column: the separator of several addresses in one
    /// cell, of which the first is taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_of: Option<&'static str>,
}

/// The known meaning of a column name, and the format that documents it:
/// `format` first when given, else the first format that does.
pub fn known(name: &str, format: Option<&str>) -> Option<(Meaning, &'static str)> {
    let k = key(name);
    let lookup = |f: &Format| {
        f.columns
            .iter()
            .find(|(h, _)| key(h) == k)
            .map(|(_, m)| (*m, f.name))
    };
    match format.and_then(|n| FORMATS.iter().find(|f| f.name == n)) {
        Some(f) => lookup(f).or_else(|| FORMATS.iter().find_map(lookup)),
        None => FORMATS.iter().find_map(lookup),
    }
}

/// The export format the header looks like: the one whose documented
/// columns, spelled exactly as documented, are most of the header's (at
/// least two that are not names of ours, and its email column: a file in
/// Roster's own format is no one's export).
pub fn detect_format(header: &[String], ours: &[&str]) -> Option<&'static str> {
    let has = |h: &str| header.iter().any(|c| c == h);
    FORMATS
        .iter()
        .filter(|f| f.name != "common synonyms")
        .map(|f| {
            let hits = f.columns.iter().filter(|(h, _)| has(h)).count();
            let email = f
                .columns
                .iter()
                .any(|(h, m)| matches!(m, Email | EmailList(_)) && has(h));
            let foreign = f
                .columns
                .iter()
                .filter(|(h, _)| has(h) && !ours.contains(h))
                .count();
            (f.name, hits, email && foreign >= 2)
        })
        .filter(|(_, hits, ok)| *hits >= 2 && *ok)
        // The first of equals: `max_by_key` keeps the last, so reverse.
        .rev()
        .max_by_key(|(_, hits, _)| *hits)
        .map(|(name, _, _)| name)
}

/// For each column of `header`, the column of ours it should feed, or why
/// it is ignored. `standard` are the import kind's columns (the first is
/// `email`), `custom` the custom fields' variable names.
///
/// Our own columns, as written, are kept. A known foreign column feeds the
/// column it means, when the kind has it and no better column already does
/// (ours first, then documented columns, then a full name for
/// `first_name`, each in header order). A case or punctuation variant of
/// one of our names (`Email`, `First_Name`) feeds that column. Everything
/// else is ignored.
pub fn suggest_mapping(header: &[String], standard: &[&str], custom: &[&str]) -> Vec<Suggestion> {
    let ours = |n: &str| standard.contains(&n) || custom.contains(&n);
    let all_ours: Vec<&str> = standard.iter().chain(custom.iter()).copied().collect();
    let format = detect_format(header, &all_ours);
    let variant_of_ours = |name: &str| {
        let k = key(name);
        standard
            .iter()
            .chain(custom.iter())
            .find(|c| key(c) == k)
            .copied()
    };
    // (rank, target) per column; lower rank wins a target.
    let mut wanted: Vec<Option<(u8, String, String)>> = Vec::with_capacity(header.len());
    let mut out: Vec<Suggestion> = Vec::with_capacity(header.len());
    for name in header {
        let mut s = Suggestion {
            column: name.clone(),
            to: None,
            reason: String::new(),
            first_of: None,
        };
        let mut want = None;
        if name.is_empty() {
            s.reason = "an unnamed column (ignored while its cells are empty)".into();
        } else if ours(name) {
            want = Some((0, name.clone(), "one of Roster's columns".to_string()));
        } else {
            let target = |m: Meaning| match m {
                Email | EmailList(_) => Some((1, standard[0])),
                FirstName => Some((1, "first_name")),
                LastName => Some((1, "last_name")),
                FullName => Some((2, "first_name")),
                Skip(_) => None,
            };
            // The detected format's meaning first; then a variant of one of
            // our names (a hand-made sheet's `Labels` is ours, Google's is
            // not); then any format's meaning.
            let documented = format.and_then(|f| known(name, Some(f)).filter(|(_, n)| *n == f));
            let meaning = match (documented, variant_of_ours(name)) {
                (Some(m), _) => Some(m),
                (None, Some(c)) => {
                    want = Some((1, c.to_string(), "the same name written differently".into()));
                    None
                }
                (None, None) => known(name, None),
            };
            match meaning {
                _ if want.is_some() => {}
                Some((Skip(why), _)) => s.reason = why.to_string(),
                Some((m, format)) => match target(m) {
                    Some((rank, t)) if standard.contains(&t) => {
                        let why = match m {
                            FullName => {
                                format!("a full name ({format}); it goes whole into first_name")
                            }
                            EmailList(sep) => {
                                s.first_of = Some(sep);
                                format!(
                                    "{format}; of several addresses joined by '{}', the first",
                                    sep.trim()
                                )
                            }
                            _ => format.to_string(),
                        };
                        want = Some((rank, t.to_string(), why));
                    }
                    _ => s.reason = "not a column of this import".into(),
                },
                None => s.reason = "not a column Roster knows".into(),
            }
        }
        wanted.push(want);
        out.push(s);
    }
    // Each target goes to its best column; the others are ignored.
    for i in 0..out.len() {
        let Some((rank, target, why)) = wanted[i].clone() else {
            continue;
        };
        let better = wanted.iter().enumerate().find(|(j, w)| {
            *j != i
                && w.as_ref()
                    .is_some_and(|(r, t, _)| *t == target && (*r < rank || (*r == rank && *j < i)))
        });
        match better {
            None => {
                out[i].to = Some(target);
                out[i].reason = why;
            }
            Some((j, _)) => {
                out[i].first_of = None;
                out[i].reason = format!("'{}' already supplies {target}", out[j].column);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STD: &[&str] = roster_core::field::CONTACT_COLUMNS;

    fn header(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    /// `mapped` lists "Column=target" for every mapped column.
    fn check(h: &str, custom: &[&str], mapped: &[&str]) {
        let got: Vec<String> = suggest_mapping(&header(h), STD, custom)
            .into_iter()
            .filter_map(|s| s.to.map(|t| format!("{}={t}", s.column)))
            .collect();
        assert_eq!(got, mapped, "{h}");
    }

    #[test]
    fn keys_are_loose() {
        assert_eq!(key("E-mail Address"), "emailaddress");
        assert_eq!(key("email_address"), "emailaddress");
        assert_eq!(key("E-mail 1 - Value"), "email1value");
    }

    #[test]
    fn suggestions() {
        check(
            "email,first_name",
            &[],
            &["email=email", "first_name=first_name"],
        );
        check(
            "Given Name,Surname,E-mail Address",
            &[],
            &[
                "Given Name=first_name",
                "Surname=last_name",
                "E-mail Address=email",
            ],
        );
        // Ours wins over a foreign column; a full name only fills first_name
        // when nothing better does.
        check(
            "Name,email,Email Address",
            &[],
            &["Name=first_name", "email=email"],
        );
        check(
            "Name,Given Name,E-mail 1 - Value",
            &[],
            &["Given Name=first_name", "E-mail 1 - Value=email"],
        );
        // Case variants of ours and of custom fields.
        check("Email,Plan", &["plan"], &["Email=email", "Plan=plan"]);
        // Google's Labels are not ours, whatever the case; a sheet's are.
        check(
            "First Name,Last Name,Labels,E-mail 1 - Value",
            &[],
            &[
                "First Name=first_name",
                "Last Name=last_name",
                "E-mail 1 - Value=email",
            ],
        );
        check("Email,Labels", &[], &["Email=email", "Labels=labels"]);
        // The first of two email columns wins.
        check("Email,E-mail", &[], &["Email=email"]);
    }

    #[test]
    fn google_cells_may_hold_several_addresses() {
        let s = suggest_mapping(&header("First Name,E-mail 1 - Value,Email"), STD, &[]);
        assert_eq!(s[1].to.as_deref(), Some("email"));
        assert_eq!(s[1].first_of, Some(" ::: "));
        assert_eq!(s[2].first_of, None);
    }

    #[test]
    fn users_have_no_labels() {
        let users = &[
            "email",
            "first_name",
            "last_name",
            "password",
            "active",
            "role",
            "password_hash",
        ];
        let got = suggest_mapping(&header("Email Address,Name,Labels"), users, &[]);
        assert_eq!(got[0].to.as_deref(), Some("email"));
        assert_eq!(got[1].to.as_deref(), Some("first_name"));
        assert_eq!(got[2].to, None);
    }

    #[test]
    fn formats_are_detected() {
        let d = |h: &str| detect_format(&header(h), STD);
        assert_eq!(
            d("First Name,Middle Name,Last Name,Labels,E-mail 1 - Label,E-mail 1 - Value"),
            Some("Google Contacts")
        );
        assert_eq!(d("id,name,email,phone_number"), Some("Chatwoot"));
        assert_eq!(
            d("name,email,external_id,details,notes,phone,role,restriction,organization,tags"),
            Some("Zendesk")
        );
        // Roster's own columns are no one's export.
        assert_eq!(d("email,first_name,labels,company_id,Plan"), None);
        assert_eq!(d("a,b"), None);
        assert_eq!(d("email,frist_name,phone"), None);
        assert_eq!(d("user_id,email,name,signed_up_at"), Some("Intercom"));
    }
}
