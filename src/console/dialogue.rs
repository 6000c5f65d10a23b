//! The console dialogue as a sans-I/O machine: [`Dialogue::handle`] takes what the bootloader
//! printed (or a tick, or the technician's answer) and the time, and returns what to type and
//! what happened. It never touches a port or a clock.
//!
//! The rules:
//! - nothing is typed before the bootloader speaks, and nothing before its autoboot window is
//!   recognised: an adapter that sends a NUL when opened makes a `MediaTek` menu boot at once
//!   (../docs/console.md), and received NULs are not speech either;
//! - the stop token goes out once per window (u-boot_mod and `GL.iNet` compare the key once);
//!   only CFE, stopped by Ctrl-C held down, gets it repeated, bounded;
//! - a command is typed one character at a time, each echoed back before the next: a console
//!   without flow control loses characters (U-Boot in QEMU dropped the first two of a `cp.b`
//!   typed at once right after an `erase`), and a lost digit in an address is the one mistake
//!   that destroys a bootloader. An echo that differs aborts the line with Ctrl-C, before
//!   Enter, and the line is typed again;
//! - each answer is read up to the next prompt and judged before the next command; a loaded
//!   image whose size or CRC-32 differs from ours stops the dialogue before any write, and any
//!   unexpected answer stops it before the next write, saying where the flash stands;
//! - the flash is written only after the technician confirms;
//! - a boot from RAM ([`super::ram_boot`]) comes after the same proof, and is over when the
//!   bootloader prints its start line: nothing is erased or written on that path.

use std::time::{Duration, Instant};

use super::baud;
pub use super::event::{ConsoleEvent, FlashState, size_words};
use super::family::{self, Family};
use super::ram_boot::RamBoot;
use super::script::{
    AnswerCheck, ImageCopy, Job, Judged, LoadAddressProbe, Step, Touch, hex, judge, round_up,
};

/// How long after the stop token the prompt may take before the window counts as missed.
pub const STOP_PATIENCE: Duration = Duration::from_secs(10);
/// How long one typed character may take to come back.
pub const ECHO_PATIENCE: Duration = Duration::from_secs(2);
/// How long a short command (`setenv`, `crc32`) may take to answer.
pub const ANSWER_PATIENCE: Duration = Duration::from_secs(30);
/// How long `tftpboot`, an erase or a write may take: U-Boot 1.1.4 gives up a TFTP transfer
/// after 10 timeouts of 5 s, and erasing 16 MiB of NOR takes minutes.
pub const LONG_PATIENCE: Duration = Duration::from_mins(10);
/// How long a boot from RAM may take to print its start line: U-Boot checks the image's own
/// CRC and decompresses the kernel first (seconds for an LZMA kernel on a 400 MHz MIPS).
pub const BOOT_PATIENCE: Duration = Duration::from_mins(1);
/// How long the console is still read after the start line, so the kernel's first lines reach
/// the technician and the transcript.
pub const SHOWN_AFTER_START: Duration = Duration::from_secs(5);
/// Times a line is typed before the dialogue gives up on the echo.
pub const ATTEMPTS: u32 = 3;
/// Times Ctrl-C is repeated for CFE, and how often: "keep CTRL+C pressed" (OpenWrt wiki) is a
/// key repeating about ten times a second.
const CFE_REPEATS: u32 = 50;
const CFE_INTERVAL: Duration = Duration::from_millis(100);
/// The safe part's steps (`setenv` twice, `tftpboot`, `crc32`) before a recipe's first.
const SAFE_STEPS: usize = 4;
/// Text kept while listening for a window (a bootloader's banner fits many times over).
const LISTEN_KEEP: usize = 8192;

/// What the profile says about the console, if anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The stop token to type instead of the family's.
    pub stop_token: Option<String>,
    /// The prompt to wait for instead of guessing it.
    pub prompt: Option<String>,
    /// The baud rate the port runs at (for the wrong-baud hint).
    pub baud: u32,
}

/// What the machine is fed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Bytes the bootloader printed.
    Bytes(Vec<u8>),
    /// Time passed.
    Tick,
    /// The technician allows the flash to be written.
    Confirm,
    /// The technician does not.
    Decline,
    /// The technician boots the proven image from RAM instead of writing it.
    BootFromRam,
}

/// The technician's answer to the write question, as the console leg receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Write the flash.
    Write,
    /// Leave the flash as it is; the image stays in RAM.
    Leave,
    /// Boot the image from RAM; nothing is written.
    BootFromRam,
}

impl From<Answer> for Input {
    fn from(answer: Answer) -> Self {
        match answer {
            Answer::Write => Input::Confirm,
            Answer::Leave => Input::Decline,
            Answer::BootFromRam => Input::BootFromRam,
        }
    }
}

/// What the driver is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes to the console.
    Type(Vec<u8>),
    /// Tell the front-ends.
    Tell(ConsoleEvent),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Waiting for a window; nothing is typed.
    Listening,
    /// The stop token went out at `since` (and again at `last`); waiting for the prompt.
    Stopping {
        since: Instant,
        last: Instant,
        repeats: u32,
    },
    /// Typing step `index`: `echoed` characters came back; the last went out at `since`.
    Typing {
        index: usize,
        echoed: usize,
        since: Instant,
        attempt: u32,
    },
    /// The line was cancelled; waiting for the prompt to type it again.
    Clearing {
        index: usize,
        since: Instant,
        attempt: u32,
    },
    /// Enter went out at `since`; reading the answer up to the prompt.
    Answering { index: usize, since: Instant },
    /// Waiting for the technician before step `index`, the recipe's first.
    Confirming { index: usize },
    /// The image booted from RAM (`line` showed it); the console is read until `until`.
    Started { line: String, until: Instant },
    /// Over.
    Over,
}

/// The console dialogue.
#[derive(Debug, Clone)]
pub struct Dialogue {
    settings: Settings,
    job: Job,
    steps: Vec<Step>,
    /// The first step of the recipe, before which the technician confirms.
    first_recipe_step: Option<usize>,
    state: State,
    family: Option<Family>,
    prompt: Option<String>,
    /// Text received since the state began, NULs and carriage returns removed.
    text: String,
    flash: FlashState,
    confirmed: bool,
    spoke: bool,
    /// Bytes seen while listening, and how many were not text.
    heard: usize,
    garbage: usize,
    baud_told: bool,
    transcript: Vec<u8>,
    /// How the device boots from RAM: typed after the proof without a recipe, offered at the
    /// write question with one.
    ram_boot: Option<RamBoot>,
}

impl Dialogue {
    /// A dialogue that will carry out `job` once the bootloader is stopped. `confirmed`: the
    /// technician already allowed the write (`--yes`).
    pub fn new(settings: Settings, job: Job, confirmed: bool) -> Self {
        let steps = job.steps();
        let first_recipe_step = job
            .recipe
            .as_ref()
            .map(|_| SAFE_STEPS)
            .filter(|&i| i < steps.len() && job.load_addr.is_some());
        Self {
            prompt: settings.prompt.clone(),
            settings,
            job,
            steps,
            first_recipe_step,
            state: State::Listening,
            family: None,
            text: String::new(),
            flash: FlashState::Untouched,
            confirmed,
            spoke: false,
            heard: 0,
            garbage: 0,
            baud_told: false,
            transcript: Vec::new(),
            ram_boot: None,
        }
    }

    /// The same dialogue with a way to boot from RAM: without a recipe it is typed once the
    /// image is proven; with one it is offered beside the write ([`Input::BootFromRam`]).
    #[must_use]
    pub fn with_ram_boot(mut self, boot: RamBoot) -> Self {
        if self.job.recipe.is_none()
            && let Some(load_addr) = self.job.load_addr
        {
            self.steps.push(boot.step(load_addr, self.job.size));
        }
        self.ram_boot = Some(boot);
        self
    }

    /// The commands the dialogue will type, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Everything the bootloader printed (its echo of what was typed included).
    pub fn transcript(&self) -> &[u8] {
        &self.transcript
    }

    /// Where the flash stands.
    pub fn flash(&self) -> FlashState {
        self.flash
    }

    /// Whether the dialogue is over.
    pub fn is_over(&self) -> bool {
        self.state == State::Over
    }

    /// Whether the dialogue waits for the technician's go.
    pub fn awaits_confirmation(&self) -> bool {
        matches!(self.state, State::Confirming { .. })
    }

    /// The family recognised, if any.
    pub fn family(&self) -> Option<Family> {
        self.family
    }

    /// When the dialogue next needs a tick, if it waits for anything with a deadline.
    pub fn deadline(&self) -> Option<Instant> {
        match &self.state {
            State::Stopping {
                since,
                last,
                repeats,
            } => {
                let give_up = *since + STOP_PATIENCE;
                if self.family.is_some_and(Family::repeats_stop) && *repeats < CFE_REPEATS {
                    Some(give_up.min(*last + CFE_INTERVAL))
                } else {
                    Some(give_up)
                }
            }
            State::Typing { since, .. } => Some(*since + ECHO_PATIENCE),
            State::Clearing { since, .. } => Some(*since + ANSWER_PATIENCE),
            State::Answering { index, since } => Some(*since + self.patience(*index)),
            State::Started { until, .. } => Some(*until),
            State::Listening | State::Confirming { .. } | State::Over => None,
        }
    }

    /// Feeds one input at `now`; returns what to type and what happened.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Bytes(bytes) => self.on_bytes(&bytes, now, &mut out),
            Input::Tick => self.on_tick(now, &mut out),
            Input::Confirm => {
                if let State::Confirming { index } = self.state {
                    self.confirmed = true;
                    self.start_step(index, 1, now, &mut out);
                }
            }
            Input::BootFromRam => self.boot_instead(now, &mut out),
            Input::Decline => {
                if matches!(self.state, State::Confirming { .. }) {
                    self.state = State::Over;
                    out.push(Action::Tell(ConsoleEvent::Finished {
                        flash: self.flash,
                        note: format!(
                            "The image is in the router's RAM, proven by its CRC-32; the write was not confirmed (declined, or no terminal to ask on and no --yes). {}",
                            self.flash_note()
                        ),
                    }));
                }
            }
        }
        out
    }

    fn on_bytes(&mut self, bytes: &[u8], now: Instant, out: &mut Vec<Action>) {
        self.transcript.extend_from_slice(bytes);
        if self.state == State::Over {
            return;
        }
        let speech: Vec<u8> = bytes.iter().copied().filter(|&b| b != 0).collect();
        if speech.is_empty() {
            return;
        }
        if !self.spoke {
            self.spoke = true;
            out.push(Action::Tell(ConsoleEvent::Spoke));
        }
        if self.state == State::Listening {
            self.count_garbage(&speech, out);
        }
        let text = String::from_utf8_lossy(&speech).replace('\r', "");
        match self.state.clone() {
            State::Listening => {
                self.text.push_str(&text);
                self.listen(now, out);
            }
            State::Stopping { .. } => {
                self.text.push_str(&text);
                self.stopping(now, out);
            }
            State::Typing {
                index,
                echoed,
                attempt,
                ..
            } => self.echo(index, echoed, attempt, &text, now, out),
            State::Clearing { index, attempt, .. } => {
                self.text.push_str(&text);
                if self.at_prompt() {
                    self.start_step(index, attempt, now, out);
                }
            }
            State::Answering { index, .. } => {
                self.text.push_str(&text);
                if let AnswerCheck::Started(started) = &self.steps[index].check
                    && let Some(line) = line_with(&self.text, started)
                {
                    self.state = State::Started {
                        line: line.clone(),
                        until: now + SHOWN_AFTER_START,
                    };
                    out.push(Action::Tell(ConsoleEvent::Started { line }));
                } else if self.at_prompt() {
                    self.answered(index, now, out);
                }
            }
            State::Confirming { .. } | State::Started { .. } | State::Over => {}
        }
    }

    fn count_garbage(&mut self, bytes: &[u8], out: &mut Vec<Action>) {
        self.heard += bytes.len();
        self.garbage += bytes.iter().filter(|&&b| !baud::is_text(b)).count();
        if !self.baud_told
            && let Some(percent) = baud::garbage_percent(self.heard, self.garbage)
        {
            self.baud_told = true;
            out.push(Action::Tell(ConsoleEvent::WrongBaud {
                garbage_percent: percent,
                suggestions: baud::suggestions(self.settings.baud),
            }));
        }
    }

    fn listen(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.family.is_none() {
            if let Some((family, line)) = Family::recognise(&self.text) {
                self.family = Some(family);
                // What came before the window's line is history; the token is read from it
                // (a named key) or from what follows (the MediaTek countdown).
                self.text.drain(..line);
                out.push(Action::Tell(ConsoleEvent::Recognised { family }));
            } else {
                keep_tail(&mut self.text, LISTEN_KEEP);
                return;
            }
        }
        let Some(family) = self.family else { return };
        let token = self
            .settings
            .stop_token
            .clone()
            .or_else(|| family.stop_token(&self.text));
        if let Some(token) = token {
            self.text.clear();
            out.push(Action::Type(token.clone().into_bytes()));
            out.push(Action::Tell(ConsoleEvent::StopTyped {
                token: shown(&token),
            }));
            let what = self.settings.prompt.as_ref().map_or_else(
                || "the bootloader's prompt".to_owned(),
                |p| format!("the prompt {:?}", p.trim_end()),
            );
            out.push(Action::Tell(ConsoleEvent::Awaiting { next: None, what }));
            self.state = State::Stopping {
                since: now,
                last: now,
                repeats: 0,
            };
        } else if let Some(seen) = booted_on(&self.text) {
            self.missed(seen, out);
        }
    }

    fn stopping(&mut self, now: Instant, out: &mut Vec<Action>) {
        let prompt = match &self.settings.prompt {
            Some(p) => self.text.ends_with(p.as_str()).then(|| p.clone()),
            None => family::looks_like_prompt(&self.text).map(str::to_owned),
        };
        if let Some(prompt) = prompt {
            self.prompt = Some(prompt.clone());
            out.push(Action::Tell(ConsoleEvent::PromptReached { prompt }));
            self.text.clear();
            self.start_step(0, 1, now, out);
        } else if let Some(seen) = booted_on(&self.text) {
            self.missed(seen, out);
        }
    }

    fn missed(&mut self, seen: String, out: &mut Vec<Action>) {
        out.push(Action::Tell(ConsoleEvent::WindowMissed { seen }));
        self.state = State::Listening;
        self.family = None;
        self.text.clear();
    }

    fn at_prompt(&self) -> bool {
        let Some(prompt) = &self.prompt else {
            return false;
        };
        self.text
            .strip_suffix(prompt.as_str())
            .is_some_and(|before| before.is_empty() || before.ends_with('\n'))
    }

    /// Types the first character of step `index` (or asks for the go before the recipe).
    fn start_step(&mut self, index: usize, attempt: u32, now: Instant, out: &mut Vec<Action>) {
        self.text.clear();
        let Some(step) = self.steps.get(index) else {
            self.finish(out);
            return;
        };
        if Some(index) == self.first_recipe_step && !self.confirmed {
            let commands = self.steps[index..]
                .iter()
                .map(|s| s.command.clone())
                .collect();
            let (erase_from, erase_to) = self.erase_region();
            if let (Some(boot), Some(load_addr)) = (&self.ram_boot, self.job.load_addr) {
                out.push(Action::Tell(ConsoleEvent::RamBoot {
                    command: boot.command_at(load_addr, self.job.size),
                    chosen: false,
                }));
            }
            out.push(Action::Tell(ConsoleEvent::ConfirmationAsked {
                commands,
                erase_from,
                erase_to,
                crc: self.job.crc,
            }));
            self.state = State::Confirming { index };
            return;
        }
        if matches!(step.check, AnswerCheck::Started(_)) {
            out.push(Action::Tell(ConsoleEvent::RamBoot {
                command: step.command.clone(),
                chosen: true,
            }));
        }
        // Told before the first character goes out: the technician sees the command before
        // the bootloader does.
        out.push(Action::Tell(ConsoleEvent::Awaiting {
            next: Some(step.command.clone()),
            what: awaited(&step.check),
        }));
        let first = step.command.as_bytes()[..1].to_vec();
        out.push(Action::Type(first));
        self.state = State::Typing {
            index,
            echoed: 0,
            since: now,
            attempt,
        };
    }

    fn echo(
        &mut self,
        index: usize,
        mut echoed: usize,
        attempt: u32,
        text: &str,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let command = self.steps[index].command.clone();
        let line = command.as_bytes();
        for &byte in text.as_bytes() {
            if echoed == line.len() || byte != line[echoed] {
                self.cancel_line(index, attempt, now, out);
                return;
            }
            echoed += 1;
        }
        if echoed < line.len() {
            out.push(Action::Type(vec![line[echoed]]));
            self.state = State::Typing {
                index,
                echoed,
                since: now,
                attempt,
            };
            return;
        }
        // The whole line came back as typed: Enter.
        out.push(Action::Type(b"\r".to_vec()));
        out.push(Action::Tell(ConsoleEvent::CommandTyped {
            command: command.clone(),
        }));
        self.note_touch(index);
        if self.steps[index].leaves {
            self.finish(out);
            return;
        }
        self.text.clear();
        self.state = State::Answering { index, since: now };
    }

    /// Ctrl-C: U-Boot's line editor drops the line ("<INTERRUPT>") and prints the prompt.
    fn cancel_line(&mut self, index: usize, attempt: u32, now: Instant, out: &mut Vec<Action>) {
        let command = self.steps[index].command.clone();
        if attempt >= ATTEMPTS {
            out.push(Action::Type(vec![3]));
            self.fail(
                format!("`{command}` did not echo back as typed after {ATTEMPTS} tries: the console loses characters"),
                out,
            );
            return;
        }
        out.push(Action::Type(vec![3]));
        out.push(Action::Tell(ConsoleEvent::Retyped {
            command,
            attempt: attempt + 1,
        }));
        self.text.clear();
        self.state = State::Clearing {
            index,
            since: now,
            attempt: attempt + 1,
        };
    }

    fn note_touch(&mut self, index: usize) {
        match self.steps[index].touch {
            Touch::Erase => self.flash = FlashState::Erasing,
            Touch::Write => self.flash = FlashState::Writing,
            Touch::None => {}
        }
    }

    fn answered(&mut self, index: usize, now: Instant, out: &mut Vec<Action>) {
        let step = self.steps[index].clone();
        let prompt_len = self.prompt.as_ref().map_or(0, String::len);
        let answer = self.text[..self.text.len() - prompt_len]
            .trim_matches('\n')
            .to_owned();
        out.push(Action::Tell(ConsoleEvent::Answered {
            command: step.command.clone(),
            answer: answer.clone(),
        }));
        match judge(&step.check, &answer) {
            Err(_) if step.check == AnswerCheck::LoadAddress(LoadAddressProbe::Env) => {
                // No `loadaddr` in this bootloader's environment (U-Boot 1.1.x often has
                // none): where its RAM is comes next.
                self.steps.truncate(index + 1);
                self.steps.push(Job::probe(LoadAddressProbe::Bdinfo));
                self.start_step(index + 1, 1, now, out);
                return;
            }
            Err(why) => {
                let fix = if matches!(step.check, AnswerCheck::LoadAddress(_)) {
                    " (give the RAM address in the profile: `console: load-address`)"
                } else {
                    ""
                };
                self.fail(format!("`{}`: {why}{fix}", step.command), out);
                return;
            }
            Ok(Judged::LoadAddress {
                addr,
                from,
                ends_before,
            }) => {
                self.load_at(index, addr, from, ends_before, now, out);
                return;
            }
            Ok(Judged::Loaded(bytes)) => out.push(Action::Tell(ConsoleEvent::Loaded { bytes })),
            Ok(Judged::Crc {
                region,
                ours,
                theirs,
            }) => {
                out.push(Action::Tell(ConsoleEvent::CrcCompared {
                    region,
                    ours,
                    theirs,
                }));
                if ours != theirs {
                    if region == ImageCopy::Flash {
                        self.flash = FlashState::Differs;
                    }
                    self.fail(
                        format!(
                            "the bootloader's CRC-32 of {region} is {theirs:08x}, ours is {ours:08x}"
                        ),
                        out,
                    );
                    return;
                }
                if region == ImageCopy::Flash {
                    self.flash = FlashState::Verified;
                }
            }
            Ok(Judged::Fine) => {}
        }
        match step.touch {
            Touch::Erase => self.flash = FlashState::Erased,
            Touch::Write => self.flash = FlashState::Written,
            Touch::None => {}
        }
        self.start_step(index + 1, 1, now, out);
    }

    /// The bootloader named where to load: the real steps follow the probes, unless the image
    /// would reach the bootloader's own memory.
    fn load_at(
        &mut self,
        index: usize,
        addr: u64,
        from: String,
        ends_before: Option<u64>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        if let Some(end) = ends_before.filter(|&end| addr + self.job.size > end) {
            self.fail(
                format!(
                    "the image ({} bytes) loaded at {} ({from}) would reach the bootloader's own memory at {}: give a RAM address that fits in the profile (`console: load-address`)",
                    self.job.size,
                    hex(addr),
                    hex(end)
                ),
                out,
            );
            return;
        }
        out.push(Action::Tell(ConsoleEvent::LoadAddressFound { addr, from }));
        self.job.load_addr = Some(addr);
        self.steps.truncate(index + 1);
        let first = self.steps.len();
        self.steps.extend(self.job.steps());
        if self.job.recipe.is_none()
            && let Some(boot) = &self.ram_boot
        {
            self.steps.push(boot.step(addr, self.job.size));
        }
        self.first_recipe_step = self
            .job
            .recipe
            .as_ref()
            .map(|_| first + SAFE_STEPS)
            .filter(|&i| i < self.steps.len());
        self.start_step(first, 1, now, out);
    }

    fn on_tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some(deadline) = self.deadline() else {
            return;
        };
        if now < deadline {
            return;
        }
        match self.state.clone() {
            State::Stopping { since, repeats, .. } if now < since + STOP_PATIENCE => {
                // CFE: the key held down.
                out.push(Action::Type(vec![3]));
                self.state = State::Stopping {
                    since,
                    last: now,
                    repeats: repeats + 1,
                };
            }
            State::Stopping { .. } => {
                self.missed("no prompt after the stop token".to_owned(), out);
            }
            State::Typing { index, attempt, .. } => self.cancel_line(index, attempt, now, out),
            State::Clearing { .. } => {
                self.fail(
                    "the prompt did not come back after a cancelled line".into(),
                    out,
                );
            }
            State::Started { line, .. } => self.finish_started(&line, out),
            State::Answering { index, .. } => {
                let command = self.steps[index].command.clone();
                self.fail(
                    format!(
                        "`{command}` gave no prompt back within {} s",
                        self.patience(index).as_secs()
                    ),
                    out,
                );
            }
            State::Listening | State::Confirming { .. } | State::Over => {}
        }
    }

    fn patience(&self, index: usize) -> Duration {
        let step = &self.steps[index];
        if matches!(step.check, AnswerCheck::Started(_)) {
            BOOT_PATIENCE
        } else if step.touch != Touch::None || matches!(step.check, AnswerCheck::Loaded { .. }) {
            LONG_PATIENCE
        } else {
            ANSWER_PATIENCE
        }
    }

    fn finish(&mut self, out: &mut Vec<Action>) {
        self.state = State::Over;
        out.push(Action::Tell(ConsoleEvent::Finished {
            flash: self.flash,
            note: self.flash_note(),
        }));
    }

    /// The technician chose the boot from RAM at the write question: the recipe's steps give
    /// way to the boot command.
    fn boot_instead(&mut self, now: Instant, out: &mut Vec<Action>) {
        let (State::Confirming { index }, Some(boot), Some(load_addr)) =
            (&self.state, &self.ram_boot, self.job.load_addr)
        else {
            return;
        };
        let index = *index;
        let step = boot.step(load_addr, self.job.size);
        self.steps.truncate(index);
        self.steps.push(step);
        self.first_recipe_step = None;
        self.start_step(index, 1, now, out);
    }

    fn finish_started(&mut self, line: &str, out: &mut Vec<Action>) {
        self.state = State::Over;
        out.push(Action::Tell(ConsoleEvent::Finished {
            flash: self.flash,
            note: format!(
                "The image started from RAM ({line:?}); it runs until the router is switched off. {}",
                self.flash_note()
            ),
        }));
    }

    fn fail(&mut self, reason: String, out: &mut Vec<Action>) {
        self.state = State::Over;
        out.push(Action::Tell(ConsoleEvent::Failed {
            reason,
            flash: self.flash,
            note: self.flash_note(),
        }));
    }

    /// The flash region the recipe's erase covers: its first byte and the first byte after
    /// it (the image's size rounded up to the erase block); empty without a recipe.
    pub fn erase_region(&self) -> (u64, u64) {
        self.job.recipe.as_ref().map_or((0, 0), |r| {
            (r.offset, r.offset + round_up(self.job.size, r.erase_size))
        })
    }

    /// Where the flash stands, in words, with its addresses.
    pub fn flash_note(&self) -> String {
        let region = self.job.recipe.as_ref().map(|_| {
            let (from, to) = self.erase_region();
            format!("{} to {}", hex(from), hex(to.saturating_sub(1)))
        });
        let region = region.unwrap_or_else(|| "the flash".to_owned());
        match self.flash {
            FlashState::Untouched => {
                "Nothing was erased or written: the flash is as it was.".to_owned()
            }
            FlashState::Erasing => format!(
                "An erase of {region} was typed and did not end as expected: that region may be partly erased, and the router will not boot from it. Stay at the prompt and run again."
            ),
            FlashState::Erased => format!(
                "{region} is erased and nothing is written: the router will not boot from it. Stay at the prompt and run again."
            ),
            FlashState::Writing => format!(
                "A write to {region} was typed and did not end as expected: it holds part of the image. Stay at the prompt and run again."
            ),
            FlashState::Written => {
                format!("The image was written to {region} and not read back.")
            }
            FlashState::Verified => {
                format!("The image is in {region}: its CRC-32 read back equals the image's.")
            }
            FlashState::Differs => format!(
                "The image was written to {region} but reads back different: do not reset; stay at the prompt and run again."
            ),
        }
    }
}

/// What a command's answer must hold, in words.
fn awaited(check: &AnswerCheck) -> String {
    match check {
        AnswerCheck::Quiet => "the prompt, with no error".to_owned(),
        AnswerCheck::Loaded { size } => format!("\"Bytes transferred = {size}\""),
        AnswerCheck::Crc { region, crc } => format!("the CRC-32 of {region} to be {crc:08x}"),
        AnswerCheck::Says(text) => format!("{text:?}"),
        AnswerCheck::LoadAddress(_) => "the address the bootloader loads to".to_owned(),
        AnswerCheck::Started(text) => format!("{text:?}: the image starting"),
    }
}

/// The whole line of `text` holding `wanted`, trimmed.
fn line_with(text: &str, wanted: &str) -> Option<String> {
    text.lines()
        .find(|l| l.contains(wanted))
        .map(|l| l.trim().to_owned())
}

/// The first sign in `text` that the bootloader went on booting.
fn booted_on(text: &str) -> Option<String> {
    family::BOOTING_ON
        .iter()
        .find(|m| text.contains(*m))
        .map(|m| (*m).trim().to_owned())
}

fn keep_tail(text: &mut String, keep: usize) {
    if text.len() > keep {
        let mut cut = text.len() - keep;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        text.drain(..cut);
    }
}

/// A token as shown to people: control keys by name.
fn shown(token: &str) -> String {
    match token {
        "\u{3}" => "Ctrl-C".to_owned(),
        "\u{1b}" => "ESC".to_owned(),
        " " => "a space".to_owned(),
        other => format!("{other:?}"),
    }
}
