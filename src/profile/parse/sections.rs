//! The checks of a profile's method sections (`http:`, `dhcp:`, `console:`): each is
//! optional, and each is refused with the field's path and a fix when it cannot work.

use std::net::Ipv4Addr;

use super::{ProfileFault, check_file_name, check_printable, fault, nearest, shown};
use crate::profile::schema::{self, Host, Method, Profile};

/// The `http:` section: only with method `http`, a path that is a path, words that are there.
pub(super) fn check_http(profile: &Profile, found: &mut Vec<ProfileFault>) {
    let Some(http) = &profile.http else { return };
    if profile.method != Method::Http {
        found.push(fault(
            &["http"],
            format!(
                "`http:` describes an upload page, but the method is `{}`",
                profile.method
            ),
            "remove `http:`, or set `method: http` if the bootloader serves an upload page",
        ));
    }
    if let Some(path) = http.path.as_deref().filter(|p| !p.starts_with('/')) {
        found.push(fault(
            &["http", "path"],
            format!("`http.path` \"{path}\" does not start with `/`"),
            format!("write it from the server's root, e.g. \"/{path}\""),
        ));
    }
    for (key, path, value) in [
        (
            "http.field",
            &["http", "field"] as &'static [&'static str],
            &http.field,
        ),
        ("http.success", &["http", "success"], &http.success),
        ("http.failure", &["http", "failure"], &http.failure),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            found.push(fault(
                path,
                format!("`{key}` is empty"),
                "give the words the page uses, or remove the field to take the flavour's",
            ));
        }
    }
}

/// The `dhcp:` section: only with a DHCP/BOOTP method; names that fit a reply's `file`
/// field; a MAC that parses; a pool of a few hosts of the laptop's subnet, not its address.
pub(super) fn check_dhcp(profile: &Profile, found: &mut Vec<ProfileFault>) {
    let dhcp = &profile.dhcp;
    if *dhcp == schema::Dhcp::default() {
        return;
    }
    if !matches!(profile.method, Method::DhcpTftp | Method::BootpTftp) {
        found.push(fault(
            &["dhcp"],
            format!(
                "`dhcp:` describes what a DHCP/BOOTP bootloader is given, but the method is `{}`",
                profile.method
            ),
            "remove `dhcp:`, or set `method: dhcp-tftp` (or `bootp-tftp`) if the bootloader asks for an address first",
        ));
    }
    if let Some(name) = &dhcp.boot_file {
        check_boot_file("dhcp.boot-file", name, &["dhcp", "boot-file"], found);
    }
    for (class, name) in &dhcp.images_by_vendor_class {
        if class.trim().is_empty() {
            found.push(fault(
                &["dhcp", "images-by-vendor-class"],
                format!("`dhcp.images-by-vendor-class` has an empty vendor class for \"{}\"", shown(name)),
                "write the start of the class the bootloader sends (option 60), e.g. `Mips_boot: test.bin`",
            ));
        }
        check_printable(
            "dhcp.images-by-vendor-class",
            class,
            &["dhcp", "images-by-vendor-class"],
            found,
        );
        check_boot_file(
            &format!("dhcp.images-by-vendor-class.{class}"),
            name,
            &["dhcp", "images-by-vendor-class"],
            found,
        );
    }
    if let Some(mac) = &dhcp.client_mac
        && schema::parse_mac(mac).is_none()
    {
        found.push(fault(
            &["dhcp", "client-mac"],
            format!("`dhcp.client-mac` \"{}\" is not a hardware address", shown(mac)),
            "write six pairs of hex digits separated by colons, e.g. 8c:de:f9:12:34:56 (the router's label shows it)",
        ));
    }
    if let Some(class) = &dhcp.vendor_class {
        if class.trim().is_empty() {
            found.push(fault(
                &["dhcp", "vendor-class"],
                "`dhcp.vendor-class` is empty".to_owned(),
                "write the start of the class the bootloader sends (option 60), e.g. `Mips_boot`, or remove the field",
            ));
        }
        check_printable("dhcp.vendor-class", class, &["dhcp", "vendor-class"], found);
        if dhcp.client_mac.is_some() {
            found.push(fault(
                &["dhcp", "vendor-class"],
                format!(
                    "`dhcp.client-mac` and `dhcp.vendor-class` \"{}\" both name who is answered",
                    shown(class)
                ),
                "keep one: the MAC when the router's label shows it, else the vendor class",
            ));
        }
    }
    if let Some(pool) = dhcp.pool {
        check_pool(pool, profile.host, found);
    }
}

/// A boot file name: a bare file name that fits the reply's 128-byte `file` field.
fn check_boot_file(
    name: &str,
    value: &str,
    path: &'static [&'static str],
    found: &mut Vec<ProfileFault>,
) {
    let before = found.len();
    check_file_name(name, value, path, found);
    if found.len() == before && value.len() >= schema::BOOT_FILE_FIELD_LEN {
        found.push(fault(
            path,
            format!(
                "`{name}` \"{}\" is {} bytes; a DHCP reply's `file` field holds {}",
                shown(value),
                value.len(),
                schema::BOOT_FILE_FIELD_LEN - 1
            ),
            "give a shorter name: the router asks for whatever name it is given",
        ));
    }
}

/// `dhcp.pool`: in order, a few addresses, all hosts of the laptop's subnet other than its own.
fn check_pool(pool: schema::Pool, host: Option<Host>, found: &mut Vec<ProfileFault>) {
    let range = format!("{} to {}", pool.first, pool.last);
    if pool.is_empty() {
        found.push(fault(
            &["dhcp", "pool"],
            format!("`dhcp.pool` {range} ends before it starts"),
            format!(
                "give the lower address as `first`: first: {}, last: {}",
                pool.last, pool.first
            ),
        ));
        return;
    }
    let Some(host) = host else {
        found.push(fault(
            &["dhcp", "pool"],
            format!("`dhcp.pool` {range} needs `host`: the laptop's address it is leased from"),
            "add `host:` with `address:` and `prefix:` in the pool's subnet",
        ));
        return;
    };
    if !(8..=30).contains(&host.prefix) {
        // check_host names the prefix; the subnet below would be wrong.
        return;
    }
    let subnet = host.subnet();
    for address in [pool.first, pool.last] {
        if !host.contains(address) {
            found.push(fault(
                &["dhcp", "pool"],
                format!("`dhcp.pool` address {address} is not in the laptop's subnet {subnet} (host {host})"),
                format!("lease addresses of {subnet}, where the router can reach the laptop"),
            ));
            return;
        }
    }
    if pool.len() > u64::from(schema::Pool::MAX_LEN) {
        found.push(fault(
            &["dhcp", "pool"],
            format!(
                "`dhcp.pool` {range} holds {} addresses; a rescue pool holds at most {}",
                pool.len(),
                schema::Pool::MAX_LEN
            ),
            format!(
                "one router is on the cable: a few addresses are enough, e.g. last: {}",
                Ipv4Addr::from(u32::from(pool.first).saturating_add(9))
            ),
        ));
        return;
    }
    if pool.first == subnet.network() || pool.last == subnet.broadcast() {
        found.push(fault(
            &["dhcp", "pool"],
            format!("`dhcp.pool` {range} includes the network or broadcast address of {subnet}"),
            "lease host addresses only: not the subnet's first and last",
        ));
    }
    if (u32::from(pool.first)..=u32::from(pool.last)).contains(&u32::from(host.address)) {
        found.push(fault(
            &["dhcp", "pool"],
            format!(
                "`dhcp.pool` {range} includes the laptop's own address {}",
                host.address
            ),
            "lease addresses the laptop does not use: start the pool after it, or end it before",
        ));
    }
}

/// The `console: flash:` recipe: an erase block that is one, an offset on its boundary, and
/// command templates whose placeholders rescue-wizard fills in. A wrong digit here is typed
/// into a bootloader that erases what it is told: the recipe is refused at load, not at the
/// prompt.
pub(super) fn check_console(profile: &Profile, found: &mut Vec<ProfileFault>) {
    if let Some(boot) = profile.console.as_ref().and_then(|c| c.ram_boot.as_ref()) {
        check_ram_boot(boot, found);
    }
    let Some(flash) = profile.console.as_ref().and_then(|c| c.flash.as_ref()) else {
        return;
    };
    let hex = |n: u64| format!("{n:#x}");
    if flash.size == Some(0) {
        found.push(fault(
            &["console", "flash", "size"],
            "`console.flash.size` is 0".to_owned(),
            "give the firmware region's size from the device's flash layout, e.g. 0x3c0000, or remove the field",
        ));
    }
    if flash.erase_size == 0 {
        found.push(fault(
            &["console", "flash", "erase-size"],
            "`console.flash.erase-size` is 0".to_owned(),
            "give the flash's erase block as the bootloader shows it (`flinfo`, `sf probe`), e.g. 0x10000 for 64 KiB sectors",
        ));
    } else if flash.offset % flash.erase_size != 0 {
        let below = flash.offset - flash.offset % flash.erase_size;
        found.push(fault(
            &["console", "flash", "offset"],
            format!(
                "`console.flash.offset` {} is not a multiple of `console.flash.erase-size` {}: an erase there would take the start of its block too",
                hex(flash.offset),
                hex(flash.erase_size)
            ),
            format!(
                "check the offset against the device's flash layout: the nearest boundaries are {} and {}",
                hex(below),
                hex(below + flash.erase_size)
            ),
        ));
    }
    if let Some(erase) = &flash.erase {
        check_template(
            &["console", "flash", "erase"],
            "console.flash.erase",
            erase,
            schema::PLACEHOLDERS,
            &[&["{offset}"], &["{erase_size}", "{size}", "$filesize"]],
            found,
        );
    }
    if let Some(write) = &flash.write {
        check_template(
            &["console", "flash", "write"],
            "console.flash.write",
            write,
            schema::PLACEHOLDERS,
            &[&["{loadaddr}"], &["{offset}"], &["{size}", "$filesize"]],
            found,
        );
    }
}

/// The `console: ram-boot:` recipe: a command that boots what was loaded and proven (at
/// `{loadaddr}`: a literal address could boot bytes nobody checked), and a start line to wait
/// for.
fn check_ram_boot(boot: &schema::ConsoleRamBoot, found: &mut Vec<ProfileFault>) {
    if let Some(command) = &boot.command {
        check_template(
            &["console", "ram-boot", "command"],
            "console.ram-boot.command",
            command,
            schema::RAM_BOOT_PLACEHOLDERS,
            &[&["{loadaddr}"]],
            found,
        );
    }
    if boot.started.as_deref().is_some_and(|s| s.trim().is_empty()) {
        found.push(fault(
            &["console", "ram-boot", "started"],
            "`console.ram-boot.started` is empty: any answer would count as the image starting"
                .to_owned(),
            format!(
                "give what the bootloader prints as it hands over, e.g. \"{}\", or remove the field",
                schema::RAM_BOOT_STARTED
            ),
        ));
    }
}

/// One recipe template: every `{name}` known, every required one (any of each group) there.
/// `${name}` is the bootloader's own variable (`${fdtcontroladdr}`), left for it to fill.
fn check_template(
    path: &'static [&'static str],
    key: &str,
    template: &str,
    known: &[&str],
    required: &[&[&str]],
    found: &mut Vec<ProfileFault>,
) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if rest[..open].ends_with('$') {
            rest = &rest[open + 1..];
            continue;
        }
        let Some(len) = rest[open..].find('}') else {
            found.push(fault(
                path,
                format!("`{key}` \"{template}\" opens a `{{` it does not close"),
                format!("write the placeholders whole: {}", known.join(", ")),
            ));
            return;
        };
        let placeholder = &rest[open..=open + len];
        rest = &rest[open + len + 1..];
        if known.contains(&placeholder) {
            continue;
        }
        let fix = match nearest(placeholder, known) {
            Some(best) => format!(
                "did you mean `{best}`? The placeholders are {}",
                known.join(", ")
            ),
            None => format!("the placeholders are {}", known.join(", ")),
        };
        found.push(fault(
            path,
            format!(
                "`{key}` \"{template}\" uses `{placeholder}`, which rescue-wizard does not fill in"
            ),
            fix,
        ));
    }
    for group in required {
        if !group.iter().any(|p| template.contains(p)) {
            found.push(fault(
                path,
                format!(
                    "`{key}` \"{template}\" lacks {}: the bootloader would be told too little",
                    group.join(" or ")
                ),
                format!(
                    "add {} where the command takes it, e.g. \"{}\"",
                    group[0],
                    if key.ends_with("erase") {
                        "erase {offset} +{erase_size}"
                    } else if key.ends_with("command") {
                        schema::RAM_BOOT_COMMAND
                    } else {
                        "cp.b {loadaddr} {offset} {size}"
                    }
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_profile;

    /// A console profile whose `console:` section ends with `ram_boot`.
    fn with_ram_boot(ram_boot: &str) -> Result<crate::profile::Profile, String> {
        let text = format!(
            "id: ram-boot-test\nvendor: Example\nmodel: Router 1\nmethod: tftp-server\n\
             host:\n  address: 192.168.0.66\n  prefix: 24\nrouter: 192.168.0.86\n\
             filename: recovery.bin\nsteps:\n  - do: Power the router on.\n\
             confidence: unverified\nconsole:\n  load-address: 0x81000000\n{ram_boot}"
        );
        parse_profile(&text, "ram.yaml").map_err(|e| e.to_string())
    }

    #[test]
    fn an_empty_ram_boot_loads_with_its_defaults_and_a_profile_without_one_is_unchanged() {
        let profile = with_ram_boot("  ram-boot: {}\n").unwrap();
        let boot = profile.console.unwrap().ram_boot.unwrap();
        let boot = crate::console::RamBoot::from_profile(&boot);
        assert_eq!(boot.command, "bootm {loadaddr}");
        assert_eq!(boot.started, "Starting kernel");
        let without = with_ram_boot("").unwrap();
        assert_eq!(without.console.unwrap().ram_boot, None);
    }

    #[test]
    fn a_ram_boot_command_keeps_the_bootloaders_variables_and_needs_the_load_address() {
        let fdt = "  ram-boot:\n    command: \"bootm {loadaddr} - ${fdtcontroladdr}\"\n";
        assert!(with_ram_boot(fdt).is_ok());
        let err = with_ram_boot("  ram-boot:\n    command: bootm {loadadr}\n").unwrap_err();
        assert!(
            err.contains("`console.ram-boot.command` \"bootm {loadadr}\" uses `{loadadr}`, which rescue-wizard does not fill in")
                && err.contains("did you mean `{loadaddr}`?"),
            "{err}"
        );
        let err = with_ram_boot("  ram-boot:\n    command: bootm 0x81000000\n").unwrap_err();
        assert!(
            err.contains("\"bootm 0x81000000\" lacks {loadaddr}")
                && err.contains("e.g. \"bootm {loadaddr}\""),
            "{err}"
        );
        let err = with_ram_boot("  ram-boot:\n    started: \"  \"\n").unwrap_err();
        assert!(err.contains("`console.ram-boot.started` is empty"), "{err}");
        let err = with_ram_boot("  ram-boot:\n    comand: bootm {loadaddr}\n").unwrap_err();
        assert!(err.contains("command"), "a misspelt key is named: {err}");
    }
}
