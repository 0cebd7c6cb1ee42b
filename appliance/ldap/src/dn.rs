//! Distinguished names (RFC 4514): enough parsing to compare DNs written differently by the
//! server (`CN=Ann` vs `cn=ann`, escapes, spaces) and to read an entry's OU path.

/// A parsed DN: relative DNs from the entry itself outwards; each RDN is one or more
/// `(type, value)` pairs (more than one for `cn=a+sn=b`). Values are unescaped.
pub type Rdns = Vec<Vec<(String, String)>>;

/// Parses a DN; `None` if it is not one (no `=`, a dangling escape, an empty RDN).
/// The empty string is the root DSE and parses to no RDNs.
pub fn parse(dn: &str) -> Option<Rdns> {
    let mut rdns = Vec::new();
    if dn.trim().is_empty() {
        return Some(rdns);
    }
    let mut rdn = Vec::new();
    let mut chars = dn.chars().peekable();
    loop {
        // attribute type
        let mut ty = String::new();
        let mut equals = false;
        for c in chars.by_ref() {
            if c == '=' {
                equals = true;
                break;
            }
            if matches!(c, ',' | '+' | '\\' | '"') {
                return None;
            }
            ty.push(c);
        }
        let ty = ty.trim().to_owned();
        if !equals || ty.is_empty() || !ty.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return None;
        }
        // value, as bytes so `\c3\a9` escapes rebuild UTF-8
        let mut value = Vec::<u8>::new();
        let mut trailing_unescaped_spaces = 0;
        let mut end = None;
        while let Some(c) = chars.next() {
            match c {
                ',' | ';' | '+' => {
                    end = Some(c);
                    break;
                }
                '\\' => {
                    trailing_unescaped_spaces = 0;
                    let first = chars.next()?;
                    if first.is_ascii_hexdigit() {
                        let second = chars.next().filter(char::is_ascii_hexdigit)?;
                        let hex = [first as u8, second as u8];
                        value.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
                    } else {
                        let mut buf = [0; 4];
                        value.extend_from_slice(first.encode_utf8(&mut buf).as_bytes());
                    }
                }
                ' ' if value.is_empty() => {}
                c => {
                    trailing_unescaped_spaces = if c == ' ' { trailing_unescaped_spaces + 1 } else { 0 };
                    let mut buf = [0; 4];
                    value.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        value.truncate(value.len() - trailing_unescaped_spaces);
        rdn.push((ty, String::from_utf8(value).ok()?));
        match end {
            Some('+') => continue,
            Some(_) => rdns.push(std::mem::take(&mut rdn)),
            None => {
                rdns.push(rdn);
                return Some(rdns);
            }
        }
    }
}

/// A DN in a form where two spellings of the same DN are equal: types and values lowercased,
/// multi-valued RDNs sorted. (Values are compared case-insensitively, which is right for the
/// naming attributes directories use: cn, ou, uid, dc.)
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NormalizedDn(Rdns);

pub fn normalize(dn: &str) -> Option<NormalizedDn> {
    let mut rdns = parse(dn)?;
    for rdn in &mut rdns {
        for (ty, value) in rdn.iter_mut() {
            *ty = ty.to_lowercase();
            *value = value.to_lowercase();
        }
        rdn.sort();
    }
    Some(NormalizedDn(rdns))
}

/// The organizational units an entry sits in, outermost first:
/// `uid=ann,ou=Engineering,ou=People,dc=example,dc=org` → `["People", "Engineering"]`.
/// Only `ou=` RDNs count (AD's `CN=Users` container is not a unit); the entry's own RDN never does.
pub fn unit_path(dn: &str) -> Vec<String> {
    let Some(rdns) = parse(dn) else { return Vec::new() };
    rdns.iter()
        .skip(1)
        .rev()
        .filter_map(|rdn| match rdn.as_slice() {
            [(ty, value)] if ty.eq_ignore_ascii_case("ou") => Some(value.clone()),
            _ => None,
        })
        .collect()
}

/// The value of the entry's own RDN (`cn=Sales,ou=Groups,…` → `Sales`).
pub fn rdn_value(dn: &str) -> Option<String> {
    parse(dn)?.into_iter().next()?.into_iter().next().map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_outermost_first() {
        assert_eq!(
            unit_path("uid=ann,ou=Engineering,ou=People,dc=example,dc=org"),
            ["People", "Engineering"]
        );
        assert_eq!(unit_path("CN=Ann Lee,CN=Users,DC=corp,DC=com"), Vec::<String>::new());
        assert_eq!(unit_path("ou=People,dc=x"), Vec::<String>::new());
        assert_eq!(unit_path("cn=x,OU=R\\2CD \\+ QA,ou=People,dc=x"), ["People", "R,D + QA"]);
        assert_eq!(unit_path("not a dn"), Vec::<String>::new());
    }

    #[test]
    fn parse_escapes_and_spaces() {
        let rdns = parse(" cn = Lee\\, Ann ,ou=M\\c3\\bcnchen+l=x, dc=org").unwrap();
        assert_eq!(rdns[0], [("cn".to_owned(), "Lee, Ann".to_owned())]);
        assert_eq!(rdns[1], [("ou".to_owned(), "München".to_owned()), ("l".to_owned(), "x".to_owned())]);
        assert_eq!(rdns[2], [("dc".to_owned(), "org".to_owned())]);
        assert_eq!(parse("cn=a\\ ").unwrap()[0][0].1, "a ");
        assert_eq!(parse("").unwrap(), Rdns::new());
        for bad in ["cn", "cn=a,", "=a", "cn=a\\", "cn=a\\4", "cn=a,,dc=b"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn normalized_spellings_are_equal() {
        assert_eq!(
            normalize("CN=Ann,OU=People, DC=Example,DC=org"),
            normalize("cn=ann,ou=people,dc=example,dc=org")
        );
        assert_eq!(normalize("cn=a+sn=b,dc=x"), normalize("sn=B+cn=A,dc=x"));
        assert_ne!(normalize("cn=a,dc=x"), normalize("cn=a,dc=y"));
        assert_eq!(rdn_value("cn=Sales,ou=Groups,dc=x").as_deref(), Some("Sales"));
    }
}
