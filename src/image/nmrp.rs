//! What an NMRP bootloader (`method: nmrp`, Netgear) takes: Netgear's own images. A .chk is
//! checked against the profile's board id (`image.model-id`, the factory image's
//! `NETGEAR_BOARD_ID`); a .trx or another vendor's image is named for what it is, because the
//! bootloader takes it over TFTP and only then turns it down, asking for its configuration
//! again (nmrpflash issues #13, #129; docs/nmrp.md).

use std::path::Path;

use super::format::Format;
use super::{ImageFinding, Severity};
use crate::profile::{Method, Profile};

/// Applies the NMRP rules of `profile` to the image at `path` of `format`; `device` names the
/// device for messages.
pub(crate) fn check(
    path: &Path,
    format: &Format,
    profile: &Profile,
    device: &str,
    findings: &mut Vec<ImageFinding>,
) {
    if profile.method != Method::Nmrp {
        return;
    }
    let name = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    let shown = path.display();
    let download = format!(
        "download the factory image for the {device} from Netgear's support page (a .chk, or the .img it offers) or OpenWrt's `-factory.chk`; see `rescue-wizard devices show {}`",
        profile.id
    );
    match format {
        Format::NetgearChk { board_id } => {
            let Some(wanted) = &profile.image.model_id else {
                return;
            };
            if board_id.eq_ignore_ascii_case(wanted) {
                findings.push(ImageFinding::ok(format!(
                    "the .chk header names board \"{board_id}\": the {device}'s"
                )));
                return;
            }
            // The model-id rule may have named the board's device already.
            let told = findings
                .iter()
                .any(|f| f.severity == Severity::Fail && f.what.contains(board_id.as_str()));
            if !told {
                findings.push(ImageFinding::fail(
                    format!(
                        "{shown} is a Netgear .chk for board \"{board_id}\"; the {device} is board \"{wanted}\": its bootloader would take it and then turn it down"
                    ),
                    format!("{download}; {name} was made for another model"),
                ));
            }
        }
        Format::Trx { .. } => findings.push(ImageFinding::warning(
            format!(
                "{shown} is a .trx (Broadcom TRX); the {device}'s NMRP bootloader wants Netgear's .chk, the same firmware with Netgear's header: most take a .trx and then turn it down"
            ),
            download,
        )),
        Format::TpLink { .. } | Format::TpLinkSafeloader { .. } => findings.push(ImageFinding::fail(
            format!(
                "{shown} is {format}: a TP-Link image; the {device} takes Netgear's .chk over NMRP"
            ),
            download,
        )),
        _ => {}
    }
}
