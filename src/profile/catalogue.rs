//! The set of known devices: the built-in catalogue, then the user's own profiles on top.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::error::ProfileError;
use super::parse::{parse_profile, read_profile_text};
use super::schema::Profile;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/devices.rs"));
}

/// Environment variable naming rescue-wizard's configuration folder; user profiles are read
/// from its `devices/` sub-folder. Without it, the platform's config folder is used.
pub const CONFIG_DIR_ENV: &str = "RESCUE_WIZARD_CONFIG_DIR";

/// The folder user profiles are read from: `$RESCUE_WIZARD_CONFIG_DIR/devices`, else
/// `<platform config dir>/rescue-wizard/devices` (`~/.config/rescue-wizard/devices` on Linux).
pub fn user_dir() -> Option<PathBuf> {
    let base = match std::env::var_os(CONFIG_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dirs::config_dir()?.join("rescue-wizard"),
    };
    Some(base.join("devices"))
}

/// The built-in profile files: (file name, YAML text), sorted by file name.
pub fn embedded_files() -> &'static [(&'static str, &'static str)] {
    embedded::EMBEDDED
}

/// Where a profile came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled in from `devices/<file>`.
    BuiltIn(&'static str),
    /// Read from the user's profile folder.
    User(PathBuf),
    /// Given with `--profile FILE` for one run.
    OneRun(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::BuiltIn(file) => write!(f, "built in (devices/{file})"),
            Origin::User(path) => write!(f, "user profile {}", path.display()),
            Origin::OneRun(path) => write!(f, "profile file {}", path.display()),
        }
    }
}

/// One known device.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The procedure.
    pub profile: Profile,
    /// Where it came from.
    pub origin: Origin,
    /// Whether it replaced a built-in profile with the same id.
    pub overrides_builtin: bool,
}

/// Every known device, by id.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    entries: BTreeMap<String, Entry>,
}

/// Reads and validates one profile file; one over the size cap is refused unread.
pub fn read_profile_file(path: &Path) -> Result<Profile, ProfileError> {
    let text = read_profile_text(path)?;
    parse_profile(&text, &path.display().to_string())
}

impl Catalogue {
    /// The built-in catalogue alone. Fails only if a compiled-in profile is broken, which the
    /// test suite rules out.
    pub fn builtin() -> Result<Self, ProfileError> {
        let mut catalogue = Self::default();
        for (file, text) in embedded_files() {
            let profile = parse_profile(text, &format!("devices/{file}"))?;
            catalogue.entries.insert(
                profile.id.clone(),
                Entry {
                    profile,
                    origin: Origin::BuiltIn(file),
                    overrides_builtin: false,
                },
            );
        }
        Ok(catalogue)
    }

    /// The built-in catalogue with the user's profiles from `dir` on top.
    ///
    /// A broken or duplicate user profile is skipped and returned in the list of problems; it
    /// never stops the others from loading. A folder that does not exist holds no profiles.
    pub fn load(dir: Option<&Path>) -> Result<(Self, Vec<ProfileError>), ProfileError> {
        let mut catalogue = Self::builtin()?;
        let mut problems = Vec::new();
        if let Some(dir) = dir {
            catalogue.add_user_dir(dir, &mut problems);
        }
        Ok((catalogue, problems))
    }

    /// [`Catalogue::load`] from [`user_dir`].
    pub fn load_default() -> Result<(Self, Vec<ProfileError>), ProfileError> {
        Self::load(user_dir().as_deref())
    }

    fn add_user_dir(&mut self, dir: &Path, problems: &mut Vec<ProfileError>) {
        let listing = match std::fs::read_dir(dir) {
            Ok(listing) => listing,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return,
            Err(source) => {
                problems.push(ProfileError::Read {
                    path: dir.to_owned(),
                    source,
                });
                return;
            }
        };
        let mut files: Vec<PathBuf> = listing
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|ext| ext == "yaml" || ext == "yml")
            })
            .collect();
        // Sorted, so which of two duplicates wins does not depend on the file system.
        files.sort();
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        for path in files {
            let profile = match read_profile_file(&path) {
                Ok(profile) => profile,
                Err(err) => {
                    problems.push(err);
                    continue;
                }
            };
            if let Some(first) = seen.get(&profile.id) {
                problems.push(ProfileError::DuplicateId {
                    id: profile.id,
                    first: first.clone(),
                    second: path,
                });
                continue;
            }
            seen.insert(profile.id.clone(), path.clone());
            self.insert(profile, Origin::User(path));
        }
    }

    /// Adds one profile file for this run (`--profile FILE`), replacing any profile with its id.
    pub fn add_profile_file(&mut self, path: &Path) -> Result<&Entry, ProfileError> {
        let profile = read_profile_file(path)?;
        let id = profile.id.clone();
        self.insert(profile, Origin::OneRun(path.to_owned()));
        self.get(&id)
    }

    fn insert(&mut self, profile: Profile, origin: Origin) {
        let overrides_builtin = self
            .entries
            .get(&profile.id)
            .is_some_and(|old| matches!(old.origin, Origin::BuiltIn(_)) || old.overrides_builtin);
        self.entries.insert(
            profile.id.clone(),
            Entry {
                profile,
                origin,
                overrides_builtin,
            },
        );
    }

    /// Every device, sorted by id with numbers in numeric order (`v8` before `v10`).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        let mut sorted: Vec<&Entry> = self.entries.values().collect();
        sorted.sort_by_cached_key(|entry| natural_key(&entry.profile.id));
        sorted.into_iter()
    }

    /// How many devices are known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no device is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The device with this id, or an error naming the nearest ids.
    pub fn get(&self, id: &str) -> Result<&Entry, ProfileError> {
        self.entries
            .get(id)
            .ok_or_else(|| ProfileError::UnknownDevice {
                id: id.to_owned(),
                suggestions: self.suggest(id),
            })
    }

    /// The device `text` names: its id, one of its aliases, or its model with or without the
    /// vendor and revision, in any case and punctuation (`TL-WR841N v9`, `wr841n v9`). Anything
    /// else is an error naming the nearest ids; a model that several revisions share is an
    /// error listing them. `--device`, `devices show` and the wizard all look devices up here.
    pub fn lookup(&self, text: &str) -> Result<&Entry, ProfileError> {
        if let Some(entry) = self.entries.get(text) {
            return Ok(entry);
        }
        let wanted = squash(text);
        let named: Vec<&Entry> = if wanted.is_empty() {
            Vec::new()
        } else {
            self.entries()
                .filter(|entry| names_exactly(&entry.profile).contains(&wanted))
                .collect()
        };
        match named.as_slice() {
            [one] => Ok(one),
            [] => Err(ProfileError::UnknownDevice {
                id: text.to_owned(),
                suggestions: self.suggest(text),
            }),
            several => Err(ProfileError::AmbiguousDevice {
                text: text.to_owned(),
                ids: several.iter().map(|e| e.profile.id.clone()).collect(),
            }),
        }
    }

    /// Up to three known ids nearest to `text`: search hits first, then by edit distance.
    pub fn suggest(&self, text: &str) -> Vec<String> {
        let mut picks: Vec<String> = self
            .search(text)
            .into_iter()
            .map(|entry| entry.profile.id.clone())
            .take(3)
            .collect();
        if picks.len() < 3 {
            let wanted = squash(text);
            // Jaro-Winkler on squashed names forgives a dropped letter or a missing vendor
            // prefix ("wr841nv9" for "tl-wr841n-v9"); 0.7 keeps unrelated ids out.
            let mut scored: Vec<(f64, &str)> = self
                .entries
                .values()
                .map(|entry| {
                    let best = searchable_names(&entry.profile)
                        .iter()
                        .map(|name| strsim::jaro_winkler(&wanted, name))
                        .fold(0.0, f64::max);
                    (best, entry.profile.id.as_str())
                })
                .filter(|(score, _)| *score >= 0.7)
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
            for (_, id) in scored {
                if picks.len() == 3 {
                    break;
                }
                if !picks.iter().any(|p| p == id) {
                    picks.push(id.to_owned());
                }
            }
        }
        picks
    }

    /// Devices matching a free-text query, tolerant of case and punctuation: every word of the
    /// query must appear in the device's id, vendor, model, revisions or aliases. Exact id or
    /// alias matches come first, then the rest by id.
    ///
    /// A query that matches nothing as typed is tried again with its words cut where a
    /// number meets a letter, so that "wr841v9" finds the WR841N v9 as "wr841 v9" does; then
    /// read as a sticker prints it, so that "TL-WR841N Ver:9.0", "Archer A7(US) Ver:5.0" and
    /// "wr841n v9.2" find the v9 and the v5 (see [`label_query`]).
    pub fn search(&self, query: &str) -> Vec<&Entry> {
        let label = label_query(query);
        for text in [query, label.as_str()] {
            let words = query_words(text);
            let hits = self.search_words(text, &words);
            if !hits.is_empty() {
                return hits;
            }
            let cut: Vec<String> = words.iter().flat_map(|w| cut_at_numbers(w)).collect();
            if cut != words {
                let hits = self.search_words(text, &cut);
                if !hits.is_empty() {
                    return hits;
                }
            }
        }
        self.search_family(query)
    }

    /// The last try of [`Catalogue::search`]: a model letter with its variant number, as
    /// "m5" in "nanostation m5", finds the model OpenWrt names by the letter alone (its
    /// Nanostation M, Bullet M and Rocket M stand for the M2 and the M5 alike), and a word
    /// of letters no device has anywhere ("loco") is left out. At least one word with a
    /// digit must remain, so that a sentence of ordinary words finds nothing.
    fn search_family(&self, query: &str) -> Vec<&Entry> {
        let words = query_words(&label_query(query));
        let names = self.family_names();
        let kept: Vec<&String> = words
            .iter()
            .filter(|word| {
                !word.chars().all(char::is_alphabetic)
                    || names
                        .iter()
                        .any(|(_, hay, model)| names_word(word, hay, model))
            })
            .collect();
        if !kept.iter().any(|w| w.chars().any(|c| c.is_ascii_digit())) {
            return Vec::new();
        }
        names
            .iter()
            .filter(|(_, hay, model)| kept.iter().all(|w| names_word(w, hay, model)))
            .map(|(entry, _, _)| *entry)
            .collect()
    }

    /// The words of letters in `query` that are in no device's names: what
    /// [`Catalogue::search`] left out, for saying so.
    pub fn unknown_words(&self, query: &str) -> Vec<String> {
        let names = self.family_names();
        query_words(&label_query(query))
            .into_iter()
            .filter(|word| {
                word.chars().all(char::is_alphabetic)
                    && !names
                        .iter()
                        .any(|(_, hay, model)| names_word(word, hay, model))
            })
            .collect()
    }

    /// Every device with its names in one text and its model's words, sorted as
    /// [`Catalogue::entries`].
    fn family_names(&self) -> Vec<(&Entry, String, Vec<String>)> {
        self.entries()
            .map(|entry| {
                let profile = &entry.profile;
                (
                    entry,
                    searchable_names(profile).join(" "),
                    model_words(profile),
                )
            })
            .collect()
    }

    fn search_words(&self, query: &str, words: &[String]) -> Vec<&Entry> {
        if words.is_empty() {
            return Vec::new();
        }
        let whole = squash(query);
        let mut exact = Vec::new();
        let mut other = Vec::new();
        for entry in self.entries() {
            let names = searchable_names(&entry.profile);
            let haystack = names.join(" ");
            if words.iter().all(|w| haystack.contains(w.as_str())) {
                if names.contains(&whole) {
                    exact.push(entry);
                } else {
                    other.push(entry);
                }
            }
        }
        exact.extend(other);
        exact
    }
}

/// The words of a query, lower-case, punctuation dropped.
fn query_words(query: &str) -> Vec<String> {
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A model as a router's sticker prints it, in the words profiles use: a region in brackets
/// (`(EU)`, `(US)`, `(UN)`) is dropped, and a hardware version written `Ver:9.0`, `Ver 5.0`
/// or `v9.2` becomes `v9`. TP-Link's minor versions (9.0, 9.2) share their major version's
/// recovery, which is why profiles name only the major one.
fn label_query(query: &str) -> String {
    let text = drop_regions(&query.to_lowercase());
    let mut out: Vec<String> = Vec::new();
    let mut version_next = false;
    for token in text.split_whitespace() {
        let (said_ver, rest) = match token.strip_prefix("ver") {
            Some(rest) => (true, rest.trim_start_matches([':', '.'])),
            None => (false, token),
        };
        if said_ver && rest.is_empty() {
            version_next = true;
            continue;
        }
        let number = if said_ver || version_next {
            Some(rest)
        } else {
            token.strip_prefix('v')
        };
        version_next = false;
        match number.and_then(major_version) {
            Some(major) => out.push(format!("v{major}")),
            None => out.push(token.to_owned()),
        }
    }
    out.join(" ")
}

/// `9` of `9`, `9.0` or `9.2.1`; `None` for anything but digits and dots.
fn major_version(version: &str) -> Option<&str> {
    let major = version.split('.').next()?;
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    (!major.is_empty() && digits(major) && version.split('.').all(digits)).then_some(major)
}

/// The text without region marks in brackets: two or three letters, as in `(EU)` or `(US)`.
fn drop_regions(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('(') {
        let after = &rest[open + 1..];
        match after.find(')') {
            Some(close)
                if (2..=3).contains(&close)
                    && after[..close].chars().all(|c| c.is_ascii_alphabetic()) =>
            {
                out.push_str(&rest[..open]);
                out.push(' ');
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether a query word names a device: it is in the device's names, or it is a variant
/// of one of its model's words (`m5` of the Nanostation M).
fn names_word(word: &str, haystack: &str, model: &[String]) -> bool {
    haystack.contains(word)
        || variant_letters(word).is_some_and(|letters| model.iter().any(|m| m == letters))
}

/// `m` of `m5`: a word of one to three letters then digits, the letters a model's own
/// word and the digits its variant. Versions (`v9`) are not variants: another hardware
/// version is another recovery.
fn variant_letters(word: &str) -> Option<&str> {
    let split = word.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = word.split_at(split);
    let plain = (1..=3).contains(&letters.len())
        && letters.chars().all(|c| c.is_ascii_lowercase())
        && digits.chars().all(|c| c.is_ascii_digit());
    (plain && !matches!(letters, "v" | "ver" | "rev")).then_some(letters)
}

/// The words of a device's model and aliases, lower-case: `nanostation` and `m` of
/// "Nanostation M".
fn model_words(profile: &Profile) -> Vec<String> {
    std::iter::once(profile.model.as_str())
        .chain(profile.aliases.iter().map(String::as_str))
        .flat_map(query_words)
        .collect()
}

/// "wr841v9" as "wr841" and "v9": cut where a digit is followed by a letter.
fn cut_at_numbers(word: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut after_digit = false;
    for c in word.chars() {
        if after_digit && c.is_alphabetic() {
            parts.push(String::new());
        }
        after_digit = c.is_ascii_digit();
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts
}

/// The names a device is called by exactly: id, aliases, vendor and model, model and
/// revision (squashed). A model alone names it only when it has no revisions to tell apart.
fn names_exactly(profile: &Profile) -> Vec<String> {
    let mut names = vec![squash(&profile.id)];
    names.extend(profile.aliases.iter().map(|alias| squash(alias)));
    for revision in &profile.revisions {
        names.push(squash(&format!("{} {revision}", profile.model)));
        names.push(squash(&format!(
            "{} {} {revision}",
            profile.vendor, profile.model
        )));
    }
    names.push(squash(&profile.model));
    names.push(squash(&format!("{} {}", profile.vendor, profile.model)));
    names
}

/// A sort key that orders runs of digits by value: `tl-wr841n-v8` before `tl-wr841n-v10`.
fn natural_key(id: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in id.chars().chain(std::iter::once('-')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            key.push((
                std::mem::take(&mut text),
                digits.parse().unwrap_or(u64::MAX),
            ));
            digits.clear();
        }
        text.push(c);
    }
    key.push((text, 0));
    key
}

/// Lower-case letters and digits only: "TL-WR841N v9" and "tl wr841n-v9" become one word.
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn searchable_names(profile: &Profile) -> Vec<String> {
    let mut names = vec![
        squash(&profile.id),
        squash(&format!("{} {}", profile.vendor, profile.model)),
        squash(&profile.model),
    ];
    for revision in &profile.revisions {
        names.push(squash(&format!("{} {revision}", profile.model)));
        names.push(squash(revision));
    }
    names.extend(profile.aliases.iter().map(|alias| squash(alias)));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sticker_label_reads_as_profiles_write_it() {
        assert_eq!(label_query("TL-WR841N Ver:9.0"), "tl-wr841n v9");
        assert_eq!(label_query("Archer A7(US) Ver:5.0"), "archer a7 v5");
        assert_eq!(label_query("TL-WR940N(EU) Ver 4.0"), "tl-wr940n v4");
        assert_eq!(label_query("wr841n v9.2"), "wr841n v9");
        // Words that only start like a version stay as they are.
        assert_eq!(label_query("verizon vdsl (adsl2)"), "verizon vdsl (adsl2)");
    }

    fn first(catalogue: &Catalogue, query: &str) -> Option<String> {
        catalogue
            .search(query)
            .first()
            .map(|entry| entry.profile.id.clone())
    }

    #[test]
    fn words_and_letter_digit_runs_find_generated_profiles() {
        let catalogue = Catalogue::builtin().expect("the built-in catalogue");
        for (query, id) in [
            ("nanostation m5", "ubiquiti-nanostation-m"),
            ("nanostation loco m2", "ubiquiti-nanostation-m"),
            ("NanoStation M2", "ubiquiti-nanostation-m"),
            ("rt-ac58u", "asus-rt-ac58u"),
            ("wr1043nd v3", "tl-wr1043nd-v3"),
        ] {
            assert_eq!(first(&catalogue, query).as_deref(), Some(id), "{query}");
        }
        // A word no device has is named for the front-end to say so.
        assert_eq!(catalogue.unknown_words("nanostation loco m2"), ["loco"]);
        // Another hardware version is not a variant: nothing rather than the wrong revision.
        assert!(catalogue.search("archer c7 v9").is_empty());
        assert!(catalogue.search("wr1043nd v9").is_empty());
        // Ordinary words alone find nothing, and so does a number no model has.
        assert!(catalogue.search("no such router").is_empty());
        assert!(catalogue.search("nonexistent").is_empty());
        assert!(catalogue.search("zz9").is_empty());
    }
}
