//! The upload page of a bootloader: its flavour, and what the profile says about it.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::profile::{HttpFlavour, Profile};

/// Which web failsafe the bootloader runs: each has its own rules for the request's segments
/// and its own words for the answer (../shared research §2; docs/http.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavour {
    /// pepe2k's `u-boot_mod` and the GL.iNet QCA and `IPQ40xx` U-Boots built on it (uIP 0.9
    /// `httpd.c`): headers and the part header in the first segment, one part, at most two
    /// segments in flight (a 3000-byte window). The most common: a profile naming no flavour
    /// gets these rules.
    #[default]
    UbootMod,
    /// The MTK failsafe of `bl-mt798x` and its forks: `POST /upload` answers the size and
    /// MD5 it received, `GET /result` writes the flash and answers `success`.
    Mediatek,
    /// Older D-Link "emergency room" pages (`/cgi/index`, field `files`): a pause after the
    /// handshake, headers and body in separate segments, one segment in flight, our data
    /// acknowledged before we close.
    Dlink,
}

impl Flavour {
    /// Every flavour, in the order docs list them.
    pub const ALL: [Flavour; 3] = [Flavour::UbootMod, Flavour::Mediatek, Flavour::Dlink];

    /// The name profiles use.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavour::UbootMod => "u-boot-mod",
            Flavour::Mediatek => "mediatek",
            Flavour::Dlink => "dlink",
        }
    }

    /// The path the form posts to.
    pub fn path(self) -> &'static str {
        match self {
            // u-boot_mod uploads on a POST to any path; its forms post to the page itself.
            Flavour::UbootMod => "/",
            Flavour::Mediatek => "/upload",
            Flavour::Dlink => "/cgi/index",
        }
    }

    /// The form's field name for a firmware image.
    pub fn field(self) -> &'static str {
        match self {
            Flavour::UbootMod | Flavour::Mediatek => "firmware",
            Flavour::Dlink => "files",
        }
    }

    /// The page's words for "the image was taken".
    pub fn success(self) -> &'static str {
        match self {
            Flavour::UbootMod => "UPDATE IN PROGRESS",
            // `/result`'s whole answer (bl-mt798x failsafe.c).
            Flavour::Mediatek => "success",
            Flavour::Dlink => "Device is Upgrading the Firmware",
        }
    }

    /// The page's words for "the image was refused", where they are known.
    pub fn failure(self) -> Option<&'static str> {
        match self {
            Flavour::UbootMod => Some("UPDATE FAILED"),
            Flavour::Mediatek => Some("fail"),
            Flavour::Dlink => None,
        }
    }

    /// Segments of ours the server takes in flight: uIP keeps one segment's worth of state
    /// and a 3000-byte window (u-boot_mod `uipopt.h`); the D-Link server loses anything past
    /// the first (its advertised window is bogus).
    pub fn in_flight(self) -> usize {
        match self {
            Flavour::UbootMod | Flavour::Mediatek => 2,
            Flavour::Dlink => 1,
        }
    }

    /// How long to wait after the handshake before the request: the D-Link server resets a
    /// request that follows the handshake at once (about 100 ms in the author's traces).
    pub fn pause_after_connect(self) -> Duration {
        match self {
            Flavour::Dlink => Duration::from_millis(150),
            Flavour::UbootMod | Flavour::Mediatek => Duration::ZERO,
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes of ours in one TCP segment: below uIP's MSS of 1446 (`uipopt.h`) and every
/// Ethernet path's, so that no segment is ever split or IP-fragmented (uIP does no
/// reassembly).
pub const SEGMENT: usize = 1400;

/// One bootloader's upload page, as the profile describes it (defaults from the flavour).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The rules it keeps.
    pub flavour: Flavour,
    /// Where its server listens (the router's rescue address, port 80).
    pub addr: SocketAddr,
    /// The path the form posts to.
    pub path: String,
    /// The form's field name (`firmware`, `nand_firmware`, `nor__firmware`, `files`, ...).
    pub field: String,
    /// Text of the answer that means "the image was taken".
    pub success: String,
    /// Text of the answer that means "the image was refused".
    pub failure: Option<String>,
    /// The largest image the page takes, where the profile knows it.
    pub size_limit: Option<u64>,
}

impl Page {
    /// The page of a `flavour` server at `addr`, with that flavour's path, field and texts.
    pub fn new(flavour: Flavour, addr: SocketAddr) -> Self {
        Self {
            flavour,
            addr,
            path: flavour.path().to_owned(),
            field: flavour.field().to_owned(),
            success: flavour.success().to_owned(),
            failure: flavour.failure().map(str::to_owned),
            size_limit: None,
        }
    }

    /// The page `profile`'s `http:` section describes, on its `address` or the profile's
    /// `router`, each absent field from the flavour (no flavour: u-boot_mod's rules). `None`
    /// without an `http:` section or any address.
    pub fn from_profile(profile: &Profile) -> Option<Self> {
        let http = profile.http.as_ref()?;
        let ip = http.address.or(profile.router)?;
        let flavour = match http.flavour {
            None | Some(HttpFlavour::UBootMod) => Flavour::UbootMod,
            Some(HttpFlavour::Mediatek) => Flavour::Mediatek,
            Some(HttpFlavour::Dlink) => Flavour::Dlink,
        };
        let mut page = Self::new(flavour, SocketAddr::new(ip.into(), http.port.unwrap_or(80)));
        if let Some(path) = &http.path {
            page.path.clone_from(path);
        }
        if let Some(field) = &http.field {
            page.field.clone_from(field);
        }
        if let Some(success) = &http.success {
            page.success.clone_from(success);
        }
        if http.failure.is_some() {
            page.failure.clone_from(&http.failure);
        }
        page.size_limit = http.size_limit;
        Some(page)
    }

    /// The page's address as a technician types it.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::parse_profile;

    const BASE: &str = "id: t\nvendor: V\nmodel: M\nmethod: http\nrouter: 192.168.1.1\nconfidence: reported\nsteps:\n  - do: Hold reset while powering on.\n";

    #[test]
    fn no_flavour_gets_u_boot_mod_rules_on_the_router_address() {
        let profile =
            parse_profile(&format!("{BASE}http:\n  field: nor__firmware\n"), "t").unwrap();
        let page = Page::from_profile(&profile).unwrap();
        assert_eq!(page.flavour, Flavour::UbootMod);
        assert_eq!(page.addr, "192.168.1.1:80".parse().unwrap());
        assert_eq!(page.field, "nor__firmware");
        assert_eq!(page.success, "UPDATE IN PROGRESS");
        assert_eq!(page.failure.as_deref(), Some("UPDATE FAILED"));
    }

    #[test]
    fn a_dlink_page_takes_its_own_address_path_and_texts() {
        let text = format!(
            "{BASE}http:\n  flavour: dlink\n  address: 192.168.0.1\n  success: Upgrade successfully!\n  size-limit: 8388608\n"
        );
        let page = Page::from_profile(&parse_profile(&text, "t").unwrap()).unwrap();
        assert_eq!(page.flavour, Flavour::Dlink);
        assert_eq!(page.url(), "http://192.168.0.1:80/cgi/index");
        assert_eq!(page.field, "files");
        assert_eq!(page.success, "Upgrade successfully!");
        assert_eq!(page.size_limit, Some(8_388_608));
    }

    #[test]
    fn profiles_without_the_section_describe_no_page() {
        let profile = parse_profile(BASE, "t").unwrap();
        assert!(profile.http.is_none());
        assert!(Page::from_profile(&profile).is_none());
    }

    #[test]
    fn the_section_is_refused_with_another_method_and_a_relative_path() {
        let text = BASE.replace(
            "method: http",
            "method: tftp-client\nhost:\n  address: 192.168.1.2\n  prefix: 24",
        ) + "http:\n  path: upload\n";
        let err = parse_profile(&text, "t").unwrap_err().to_string();
        assert!(
            err.contains("`http:` describes an upload page, but the method is `tftp-client`"),
            "{err}"
        );
        assert!(
            err.contains("`http.path` \"upload\" does not start with `/`"),
            "{err}"
        );
    }

    #[test]
    fn the_catalogue_b1300_page_is_u_boot_mod_on_192_168_1_1() {
        let text = include_str!("../../devices/glinet-b1300.yaml");
        let page = Page::from_profile(&parse_profile(text, "glinet-b1300").unwrap()).unwrap();
        assert_eq!(page.flavour, Flavour::UbootMod);
        assert_eq!(page.url(), "http://192.168.1.1:80/");
        assert_eq!(page.field, "firmware");
    }

    fn catalogue_page(id: &str, text: &str) -> Page {
        Page::from_profile(&parse_profile(text, id).unwrap()).unwrap()
    }

    #[test]
    fn the_catalogue_dap_1330_page_is_dlink_cgi_index_on_192_168_0_50() {
        let page = catalogue_page(
            "dlink-dap-1330-a1",
            include_str!("../../devices/dlink-dap-1330-a1.yaml"),
        );
        assert_eq!(page.flavour, Flavour::Dlink);
        assert_eq!(page.url(), "http://192.168.0.50:80/cgi/index");
        assert_eq!(page.field, "files");
        assert_eq!(page.success, "Device is Upgrading the Firmware");
    }

    #[test]
    fn the_catalogue_mt3000_page_is_the_mediatek_failsafe_on_192_168_1_1() {
        let page = catalogue_page(
            "glinet-gl-mt3000-bl-mt798x",
            include_str!("../../devices/glinet-gl-mt3000-bl-mt798x.yaml"),
        );
        assert_eq!(page.flavour, Flavour::Mediatek);
        assert_eq!(page.url(), "http://192.168.1.1:80/upload");
        assert_eq!(page.field, "firmware");
    }

    #[test]
    fn the_catalogue_qca95xx_glinet_pages_name_their_flash_field() {
        for (id, text, field) in [
            (
                "glinet-gl-ar300m",
                include_str!("../../devices/glinet-gl-ar300m.yaml"),
                "nand_firmware",
            ),
            (
                "glinet-gl-ar750s",
                include_str!("../../devices/glinet-gl-ar750s.yaml"),
                "nand_firmware",
            ),
            (
                "glinet-gl-ar750",
                include_str!("../../devices/glinet-gl-ar750.yaml"),
                "nor__firmware",
            ),
            (
                "glinet-gl-xe300",
                include_str!("../../devices/glinet-gl-xe300.yaml"),
                "nand_firmware",
            ),
        ] {
            let page = catalogue_page(id, text);
            assert_eq!(page.flavour, Flavour::UbootMod, "{id}");
            assert_eq!(page.url(), "http://192.168.1.1:80/", "{id}");
            assert_eq!(page.field, field, "{id}");
        }
    }
}
