//! A throwaway OpenLDAP server for tests: `slapd.conf` and an mdb database in a temp dir, seeded
//! with `slapadd`, listening on 127.0.0.1 at free ports, killed on drop.
//!
//! The seeded tree (base `dc=example,dc=org`):
//! ```text
//! ou=People
//!   uid=erin                      (directly in People)
//!   ou=Engineering: uid=ann, uid=bob
//!   ou=Sales:       uid=carol, uid=dave, uid=rep01..rep12
//! ou=Groups: cn=engineers (ann, bob), cn=sales (carol, dave),
//!            cn=all-staff (cn=engineers, erin, cn=nobody)
//! ou=Services: cn=parley (the service account; not a user)
//! ```
//! 17 users in all, while the server's size limit for non-root binds is 10 per search, so only
//! a paged search sees them all.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync};
use parley_ldap::LdapSettings;
use tempfile::TempDir;

pub const BASE: &str = "dc=example,dc=org";
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
pub const ADMIN_PW: &str = "admin-secret";
pub const SERVICE_DN: &str = "cn=parley,ou=Services,dc=example,dc=org";
pub const SERVICE_PW: &str = "service-secret";
pub const USERS: usize = 17;

/// The seeded users' passwords: `pw-<uid>`; ann's is stored `{SSHA}`-hashed, the rest in clear.
pub fn password(uid: &str) -> String {
    format!("pw-{uid}")
}

pub struct Slapd {
    child: Child,
    dir: TempDir,
    pub port: u16,
    /// With TLS: the ldaps:// port and the CA that signed the server's certificate.
    pub tls: Option<(u16, String)>,
}

impl Slapd {
    /// A plain `ldap://` server (StartTLS unavailable).
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// `ldap://` with StartTLS plus `ldaps://`, with a certificate for 127.0.0.1 and localhost
    /// signed by a throwaway CA.
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        let mut dir = tempfile::tempdir().expect("temp dir");
        let ca_pem = tls.then(|| write_certificates(dir.path()));
        write_config(dir.path(), tls);
        seed(dir.path());
        for _attempt in 0..5 {
            let port = free_port();
            let tls_port = tls.then(free_port);
            let mut urls = format!("ldap://127.0.0.1:{port}/");
            if let Some(p) = tls_port {
                urls.push_str(&format!(" ldaps://127.0.0.1:{p}/"));
            }
            let log = std::fs::File::create(dir.path().join("slapd.log")).expect("log");
            let child = Command::new("/usr/sbin/slapd")
                .arg("-f")
                .arg(dir.path().join("slapd.conf"))
                .args(["-h", &urls, "-d", "0"])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("start /usr/sbin/slapd (apt-get install slapd ldap-utils)");
            let mut slapd = Slapd { child, dir, port, tls: tls_port.zip(ca_pem.clone()) };
            if slapd.wait_ready() {
                return slapd;
            }
            // Lost a port race or failed to start: try again with new ports.
            let _ = slapd.child.kill();
            let _ = slapd.child.wait();
            let log = std::fs::read_to_string(slapd.dir.path().join("slapd.log")).unwrap_or_default();
            eprintln!("slapd did not start, retrying:\n{log}");
            // Take the dir back out without running Drop's kill twice.
            dir = std::mem::replace(&mut slapd.dir, tempfile::tempdir().expect("temp dir"));
        }
        panic!("slapd did not start");
    }

    /// Polls with `ldapsearch` until the server answers (or exits, or 10 s pass).
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let ok = Command::new("ldapsearch")
                .args([
                    "-x",
                    "-H",
                    &self.url(),
                    "-D",
                    ADMIN_DN,
                    "-w",
                    ADMIN_PW,
                    "-b",
                    BASE,
                    "-s",
                    "base",
                    "-o",
                    "nettimeout=2",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run ldapsearch (apt-get install ldap-utils)")
                .success();
            if ok {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.tls.as_ref().expect("a TLS server").0)
    }

    pub fn ca_pem(&self) -> String {
        self.tls.as_ref().expect("a TLS server").1.clone()
    }

    /// Settings that bind as the service account over plain ldap://, with small pages.
    pub fn settings(&self) -> LdapSettings {
        let mut settings = LdapSettings::new(self.url(), BASE);
        settings.bind_dn = SERVICE_DN.into();
        settings.bind_password = SERVICE_PW.into();
        settings.page_size = 5;
        settings.connect_timeout_secs = 5;
        settings.operation_timeout_secs = 5;
        settings
    }

    /// A connection bound as the root DN, for changing the directory under a test.
    pub async fn admin(&self) -> Ldap {
        let (driver, mut ldap) = LdapConnAsync::new(&self.url()).await.expect("admin connect");
        tokio::spawn(async move {
            let _ = driver.drive().await;
        });
        ldap.simple_bind(ADMIN_DN, ADMIN_PW).await.expect("admin bind").success().expect("admin bind");
        ldap
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn write_config(dir: &Path, tls: bool) {
    let d = dir.display();
    let tls_lines = if tls {
        format!(
            "TLSCACertificateFile {d}/ca.pem\nTLSCertificateFile {d}/server.pem\nTLSCertificateKeyFile {d}/server.key\n"
        )
    } else {
        String::new()
    };
    std::fs::create_dir(dir.join("db")).expect("db dir");
    let conf = format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
{tls_lines}
# A DN with an empty password binds anonymously: what a naive client would take for a login.
allow bind_anon_dn
# Small on purpose: a search without paging cannot return the 17 seeded users.
sizelimit size.soft=10 size.hard=10 size.prtotal=unlimited

database mdb
maxsize 16777216
suffix \"{BASE}\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PW}
directory {d}/db
index objectClass eq
index uid eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
"
    );
    std::fs::write(dir.join("slapd.conf"), conf).expect("write slapd.conf");
}

fn seed(dir: &Path) {
    let hashed =
        Command::new("/usr/sbin/slappasswd").args(["-s", &password("ann")]).output().expect("slappasswd");
    assert!(hashed.status.success(), "slappasswd failed");
    let ann_hash = String::from_utf8(hashed.stdout).expect("utf8").trim().to_owned();
    assert!(ann_hash.starts_with("{SSHA}"), "{ann_hash}");

    let mut ldif =
        format!("dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n");
    for ou in ["ou=People", "ou=Engineering,ou=People", "ou=Sales,ou=People", "ou=Groups", "ou=Services"] {
        let name = ou.split(['=', ',']).nth(1).expect("name");
        ldif += &format!("dn: {ou},{BASE}\nobjectClass: organizationalUnit\nou: {name}\n\n");
    }
    ldif += &format!(
        "dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
         cn: parley\nuserPassword: {SERVICE_PW}\n\n"
    );
    let mut person = |uid: &str, ou: &str, cn: &str, title: Option<&str>, password: &str| {
        let sn = cn.rsplit(' ').next().expect("sn");
        ldif += &format!(
            "dn: uid={uid},{ou}{BASE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {cn}\nsn: {sn}\n\
             mail: {uid}@example.org\ntelephoneNumber: +1 555 0100\nuserPassword: {password}\n"
        );
        if let Some(title) = title {
            ldif += &format!("title: {title}\n");
        }
        ldif += "\n";
    };
    person("ann", "ou=Engineering,ou=People,", "Ann Lee", Some("Staff Engineer"), &ann_hash);
    person("bob", "ou=Engineering,ou=People,", "Bob Stone", Some("Engineer"), &password("bob"));
    person("carol", "ou=Sales,ou=People,", "Carol King", Some("Sales Lead"), &password("carol"));
    person("dave", "ou=Sales,ou=People,", "Dave Park", None, &password("dave"));
    person("erin", "ou=People,", "Erin Moss", Some("CEO"), &password("erin"));
    for n in 1..=12 {
        let uid = format!("rep{n:02}");
        person(
            &uid,
            "ou=Sales,ou=People,",
            &format!("Rep {n:02}"),
            Some("Account Executive"),
            &password(&uid),
        );
    }
    let people = format!("ou=People,{BASE}");
    let group = |cn: &str, members: &[String]| {
        let mut entry = format!("dn: cn={cn},ou=Groups,{BASE}\nobjectClass: groupOfNames\ncn: {cn}\n");
        for m in members {
            entry += &format!("member: {m}\n");
        }
        entry + "\n"
    };
    ldif += &group(
        "engineers",
        &[format!("uid=ann,ou=Engineering,{people}"), format!("UID=Bob, OU=Engineering, {people}")],
    );
    ldif += &group("sales", &[format!("uid=carol,ou=Sales,{people}"), format!("uid=dave,ou=Sales,{people}")]);
    ldif += &group(
        "all-staff",
        &[
            format!("cn=engineers,ou=Groups,{BASE}"),
            format!("uid=erin,{people}"),
            format!("cn=nobody,{BASE}"),
        ],
    );
    std::fs::write(dir.join("seed.ldif"), ldif).expect("write seed.ldif");
    let out = Command::new("/usr/sbin/slapadd")
        .arg("-f")
        .arg(dir.join("slapd.conf"))
        .arg("-l")
        .arg(dir.join("seed.ldif"))
        .output()
        .expect("run slapadd");
    assert!(out.status.success(), "slapadd failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA and a server certificate it signed (for 127.0.0.1 and localhost); returns the CA's PEM.
fn write_certificates(dir: &Path) -> String {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Parley test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");

    let key = KeyPair::generate().expect("key");
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let cert = params.signed_by(&key, &ca).expect("server certificate");

    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write");
    std::fs::write(dir.join("server.pem"), cert.pem()).expect("write");
    std::fs::write(dir.join("server.key"), key.serialize_pem()).expect("write");
    ca.pem()
}
