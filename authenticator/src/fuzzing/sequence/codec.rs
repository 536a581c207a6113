//! The byte encoding of [`Action`]s (see there): fuzz input in, seeds and
//! regression inputs out.

use super::*;

/// A cursor over fuzz input; every read fails at the end of input.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if self.0.len() < len {
            return None;
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(head)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn short_bytes(&mut self) -> Option<Vec<u8>> {
        let len = self.byte()?;
        Some(self.take(usize::from(len))?.to_vec())
    }

    fn fragment(&mut self) -> Option<Fragment> {
        if self.byte()? & 0x80 != 0 {
            Some(Fragment::Raw(self.short_bytes()?))
        } else {
            Some(Fragment::Draft {
                start: self.u16()?,
                len: self.u16()?,
            })
        }
    }

    fn credential_refs(&mut self, count: u8) -> Option<Vec<CredentialRef>> {
        (0..count.min(8)).map(|_| self.credential_ref()).collect()
    }

    fn credential_ref(&mut self) -> Option<CredentialRef> {
        let b = self.byte()?;
        if b & 0x80 != 0 {
            Some(CredentialRef::Raw(self.short_bytes()?))
        } else {
            Some(CredentialRef::Issued {
                index: b & 0x3f,
                corrupt: b & 0x40 != 0,
            })
        }
    }

    fn action(&mut self) -> Option<Action> {
        Some(match self.byte()? % 32 {
            0 => {
                let (rp, user, flags) = (self.byte()?, self.byte()?, self.byte()?);
                let (extensions, count) = (self.byte()?, self.byte()?);
                Action::MakeCredential {
                    rp,
                    user,
                    flags,
                    extensions,
                    exclude: self.credential_refs(count)?,
                }
            }
            1 => {
                let (rp, flags) = (self.byte()?, self.byte()?);
                let (extensions, count) = (self.byte()?, self.byte()?);
                let allow = if count == 0xff {
                    None
                } else {
                    Some(self.credential_refs(count)?)
                };
                Action::GetAssertion {
                    rp,
                    flags,
                    extensions,
                    allow,
                }
            }
            2 => Action::Simple(self.byte()?),
            3 => Action::Raw(self.short_bytes()?),
            4 => Action::Resume(match self.byte()? % 3 {
                0 => Verdict::Approved,
                1 => Verdict::Denied,
                _ => Verdict::TimedOut,
            }),
            5 => Action::Cancel,
            6 => Action::PowerCycle,
            7 => Action::Advance(self.u16()?),
            8 => Action::ClientPin {
                op: self.byte()?,
                permissions: self.byte()?,
            },
            9 => Action::LargeBlobGet {
                offset: self.u16()?,
                get: self.u16()?,
            },
            10 => Action::LargeBlobSet {
                offset: self.u16()?,
                length: Some(self.u16()?).filter(|l| *l != 0xffff),
                fragment: self.fragment()?,
                auth: self.byte()?,
            },
            11 => Action::LargeBlobWrite {
                entries: self.byte()?,
                size: self.u16()?,
                chunk: self.u16()?,
                flags: self.byte()?,
            },
            12 => Action::U2fRegister {
                app: self.byte()?,
                form: self.byte()?,
            },
            13 => Action::U2fAuthenticate {
                app: self.byte()?,
                control: self.byte()?,
                key_handle: self.credential_ref()?,
                form: self.byte()?,
            },
            14 => Action::U2fVersion { form: self.byte()? },
            16 => Action::Restart {
                flags: self.byte()?,
            },
            _ => Action::U2fRaw(self.short_bytes()?),
        })
    }
}

/// Decodes fuzz input into actions (at most [`MAX_ACTIONS`]).
pub fn decode_actions(data: &[u8]) -> Vec<Action> {
    let mut input = Input(data);
    let mut actions = Vec::new();
    while actions.len() < MAX_ACTIONS {
        match input.action() {
            Some(action) => actions.push(action),
            None => break,
        }
    }
    actions
}

/// Encodes actions as [`decode_actions`] reads them (seeds, regression inputs).
/// Lists longer than 8 entries and raw fields longer than 255 bytes are cut;
/// a large-blob length of `0xffff` reads back as absent.
pub fn encode_actions(actions: &[Action]) -> Vec<u8> {
    fn refs(out: &mut Vec<u8>, list: &[CredentialRef]) {
        let list = &list[..list.len().min(8)];
        out.push(list.len() as u8);
        for r in list {
            one_ref(out, r);
        }
    }
    fn one_ref(out: &mut Vec<u8>, r: &CredentialRef) {
        match r {
            CredentialRef::Issued { index, corrupt } => {
                out.push((index & 0x3f) | if *corrupt { 0x40 } else { 0 });
            }
            CredentialRef::Raw(id) => {
                out.push(0x80);
                short_bytes(out, id);
            }
        }
    }
    fn short_bytes(out: &mut Vec<u8>, data: &[u8]) {
        let data = &data[..data.len().min(255)];
        out.push(data.len() as u8);
        out.extend_from_slice(data);
    }
    let mut out = Vec::new();
    for action in actions {
        match action {
            Action::MakeCredential {
                rp,
                user,
                flags,
                extensions,
                exclude,
            } => {
                out.extend_from_slice(&[0, *rp, *user, *flags, *extensions]);
                refs(&mut out, exclude);
            }
            Action::GetAssertion {
                rp,
                flags,
                extensions,
                allow,
            } => {
                out.extend_from_slice(&[1, *rp, *flags, *extensions]);
                match allow {
                    None => out.push(0xff),
                    Some(list) => refs(&mut out, list),
                }
            }
            Action::Simple(which) => out.extend_from_slice(&[2, *which]),
            Action::Raw(request) => {
                out.push(3);
                short_bytes(&mut out, request);
            }
            Action::Resume(verdict) => out.extend_from_slice(&[
                4,
                match verdict {
                    Verdict::Approved => 0,
                    Verdict::Denied => 1,
                    Verdict::TimedOut => 2,
                },
            ]),
            Action::Cancel => out.push(5),
            Action::PowerCycle => out.push(6),
            Action::Advance(ticks) => {
                out.push(7);
                out.extend_from_slice(&ticks.to_le_bytes());
            }
            Action::ClientPin { op, permissions } => out.extend_from_slice(&[8, *op, *permissions]),
            Action::LargeBlobGet { offset, get } => {
                out.push(9);
                out.extend_from_slice(&offset.to_le_bytes());
                out.extend_from_slice(&get.to_le_bytes());
            }
            Action::LargeBlobSet {
                offset,
                length,
                fragment,
                auth,
            } => {
                out.push(10);
                out.extend_from_slice(&offset.to_le_bytes());
                out.extend_from_slice(&length.unwrap_or(0xffff).to_le_bytes());
                match fragment {
                    Fragment::Raw(data) => {
                        out.push(0x80);
                        short_bytes(&mut out, data);
                    }
                    Fragment::Draft { start, len } => {
                        out.push(0);
                        out.extend_from_slice(&start.to_le_bytes());
                        out.extend_from_slice(&len.to_le_bytes());
                    }
                }
                out.push(*auth);
            }
            Action::LargeBlobWrite {
                entries,
                size,
                chunk,
                flags,
            } => {
                out.extend_from_slice(&[11, *entries]);
                out.extend_from_slice(&size.to_le_bytes());
                out.extend_from_slice(&chunk.to_le_bytes());
                out.push(*flags);
            }
            Action::U2fRegister { app, form } => out.extend_from_slice(&[12, *app, *form]),
            Action::U2fAuthenticate {
                app,
                control,
                key_handle,
                form,
            } => {
                out.extend_from_slice(&[13, *app, *control]);
                one_ref(&mut out, key_handle);
                out.push(*form);
            }
            Action::U2fVersion { form } => out.extend_from_slice(&[14, *form]),
            Action::U2fRaw(apdu) => {
                out.push(15);
                short_bytes(&mut out, apdu);
            }
            Action::Restart { flags } => out.extend_from_slice(&[16, *flags]),
        }
    }
    out
}
