//! CTAP status codes: the one place errors become bytes on the wire.
//!
//! Every handler returns `Result<_, StatusCode>`; finer internal errors convert
//! into this enum with `From`. Codes are those of CTAP 2.1 §8.2 "Status codes".

/// A CTAP status code (CTAP 2.1 §8.2), as sent in the first byte of a CTAP2 response.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StatusCode {
    /// CTAP1_ERR_SUCCESS / CTAP2_OK.
    Ok = 0x00,
    /// The command is not a valid CTAP command.
    InvalidCommand = 0x01,
    /// The command included an invalid parameter.
    InvalidParameter = 0x02,
    /// Invalid message or item length.
    InvalidLength = 0x03,
    /// Invalid message sequencing.
    InvalidSeq = 0x04,
    /// Message timed out.
    Timeout = 0x05,
    /// Channel busy.
    ChannelBusy = 0x06,
    /// Command requires channel lock.
    LockRequired = 0x0A,
    /// Command not allowed on this cid.
    InvalidChannel = 0x0B,
    /// Invalid/unexpected CBOR error.
    CborUnexpectedType = 0x11,
    /// Error when parsing CBOR.
    InvalidCbor = 0x12,
    /// Missing non-optional parameter.
    MissingParameter = 0x14,
    /// Limit for number of items exceeded.
    LimitExceeded = 0x15,
    /// Fingerprint database is full.
    FpDatabaseFull = 0x17,
    /// Large blob storage is full.
    LargeBlobStorageFull = 0x18,
    /// Valid credential found in the exclude list.
    CredentialExcluded = 0x19,
    /// Processing (lengthy operation is in progress).
    Processing = 0x21,
    /// Credential not valid for the authenticator.
    InvalidCredential = 0x22,
    /// Authentication is waiting for user interaction.
    UserActionPending = 0x23,
    /// Processing, lengthy operation is in progress.
    OperationPending = 0x24,
    /// No request is pending.
    NoOperations = 0x25,
    /// Authenticator does not support the requested algorithm.
    UnsupportedAlgorithm = 0x26,
    /// Not authorized for requested operation.
    OperationDenied = 0x27,
    /// Internal key storage is full.
    KeyStoreFull = 0x28,
    /// Unsupported option.
    UnsupportedOption = 0x2B,
    /// Not a valid option for current operation.
    InvalidOption = 0x2C,
    /// Pending keep alive was cancelled.
    KeepaliveCancel = 0x2D,
    /// No valid credentials provided.
    NoCredentials = 0x2E,
    /// A user action timeout occurred.
    UserActionTimeout = 0x2F,
    /// Continuation command, such as authenticatorGetNextAssertion, not allowed.
    NotAllowed = 0x30,
    /// PIN invalid.
    PinInvalid = 0x31,
    /// PIN blocked.
    PinBlocked = 0x32,
    /// PIN authentication (pinUvAuthParam) verification failed.
    PinAuthInvalid = 0x33,
    /// PIN authentication using pinUvAuthToken blocked; requires power cycle to reset.
    PinAuthBlocked = 0x34,
    /// No PIN has been set.
    PinNotSet = 0x35,
    /// A pinUvAuthToken is required for the selected operation.
    PuatRequired = 0x36,
    /// PIN policy violation.
    PinPolicyViolation = 0x37,
    /// The authenticator cannot satisfy the request (a reserved code in 2.1).
    RequestTooLarge = 0x39,
    /// The current operation has timed out.
    ActionTimeout = 0x3A,
    /// User presence is required for the requested operation.
    UpRequired = 0x3B,
    /// Built-in user verification is disabled.
    UvBlocked = 0x3C,
    /// A checksum did not match.
    IntegrityFailure = 0x3D,
    /// The requested subcommand is either invalid or not implemented.
    InvalidSubcommand = 0x3E,
    /// Built-in user verification unsuccessful.
    UvInvalid = 0x3F,
    /// The permissions parameter contains an unauthorized permission.
    UnauthorizedPermission = 0x40,
    /// Other unspecified error.
    Other = 0x7F,
}

impl StatusCode {
    /// The byte sent on the wire.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The status for a byte, if it is one of the codes above.
    pub fn from_code(code: u8) -> Option<Self> {
        const ALL: &[StatusCode] = &[
            StatusCode::Ok,
            StatusCode::InvalidCommand,
            StatusCode::InvalidParameter,
            StatusCode::InvalidLength,
            StatusCode::InvalidSeq,
            StatusCode::Timeout,
            StatusCode::ChannelBusy,
            StatusCode::LockRequired,
            StatusCode::InvalidChannel,
            StatusCode::CborUnexpectedType,
            StatusCode::InvalidCbor,
            StatusCode::MissingParameter,
            StatusCode::LimitExceeded,
            StatusCode::FpDatabaseFull,
            StatusCode::LargeBlobStorageFull,
            StatusCode::CredentialExcluded,
            StatusCode::Processing,
            StatusCode::InvalidCredential,
            StatusCode::UserActionPending,
            StatusCode::OperationPending,
            StatusCode::NoOperations,
            StatusCode::UnsupportedAlgorithm,
            StatusCode::OperationDenied,
            StatusCode::KeyStoreFull,
            StatusCode::UnsupportedOption,
            StatusCode::InvalidOption,
            StatusCode::KeepaliveCancel,
            StatusCode::NoCredentials,
            StatusCode::UserActionTimeout,
            StatusCode::NotAllowed,
            StatusCode::PinInvalid,
            StatusCode::PinBlocked,
            StatusCode::PinAuthInvalid,
            StatusCode::PinAuthBlocked,
            StatusCode::PinNotSet,
            StatusCode::PuatRequired,
            StatusCode::PinPolicyViolation,
            StatusCode::RequestTooLarge,
            StatusCode::ActionTimeout,
            StatusCode::UpRequired,
            StatusCode::UvBlocked,
            StatusCode::IntegrityFailure,
            StatusCode::InvalidSubcommand,
            StatusCode::UvInvalid,
            StatusCode::UnauthorizedPermission,
            StatusCode::Other,
        ];
        ALL.iter().copied().find(|status| status.code() == code)
    }

    /// The spec's name for this code, for logs and traces.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ok => "CTAP2_OK",
            Self::InvalidCommand => "CTAP1_ERR_INVALID_COMMAND",
            Self::InvalidParameter => "CTAP1_ERR_INVALID_PARAMETER",
            Self::InvalidLength => "CTAP1_ERR_INVALID_LENGTH",
            Self::InvalidSeq => "CTAP1_ERR_INVALID_SEQ",
            Self::Timeout => "CTAP1_ERR_TIMEOUT",
            Self::ChannelBusy => "CTAP1_ERR_CHANNEL_BUSY",
            Self::LockRequired => "CTAP1_ERR_LOCK_REQUIRED",
            Self::InvalidChannel => "CTAP1_ERR_INVALID_CHANNEL",
            Self::CborUnexpectedType => "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
            Self::InvalidCbor => "CTAP2_ERR_INVALID_CBOR",
            Self::MissingParameter => "CTAP2_ERR_MISSING_PARAMETER",
            Self::LimitExceeded => "CTAP2_ERR_LIMIT_EXCEEDED",
            Self::FpDatabaseFull => "CTAP2_ERR_FP_DATABASE_FULL",
            Self::LargeBlobStorageFull => "CTAP2_ERR_LARGE_BLOB_STORAGE_FULL",
            Self::CredentialExcluded => "CTAP2_ERR_CREDENTIAL_EXCLUDED",
            Self::Processing => "CTAP2_ERR_PROCESSING",
            Self::InvalidCredential => "CTAP2_ERR_INVALID_CREDENTIAL",
            Self::UserActionPending => "CTAP2_ERR_USER_ACTION_PENDING",
            Self::OperationPending => "CTAP2_ERR_OPERATION_PENDING",
            Self::NoOperations => "CTAP2_ERR_NO_OPERATIONS",
            Self::UnsupportedAlgorithm => "CTAP2_ERR_UNSUPPORTED_ALGORITHM",
            Self::OperationDenied => "CTAP2_ERR_OPERATION_DENIED",
            Self::KeyStoreFull => "CTAP2_ERR_KEY_STORE_FULL",
            Self::UnsupportedOption => "CTAP2_ERR_UNSUPPORTED_OPTION",
            Self::InvalidOption => "CTAP2_ERR_INVALID_OPTION",
            Self::KeepaliveCancel => "CTAP2_ERR_KEEPALIVE_CANCEL",
            Self::NoCredentials => "CTAP2_ERR_NO_CREDENTIALS",
            Self::UserActionTimeout => "CTAP2_ERR_USER_ACTION_TIMEOUT",
            Self::NotAllowed => "CTAP2_ERR_NOT_ALLOWED",
            Self::PinInvalid => "CTAP2_ERR_PIN_INVALID",
            Self::PinBlocked => "CTAP2_ERR_PIN_BLOCKED",
            Self::PinAuthInvalid => "CTAP2_ERR_PIN_AUTH_INVALID",
            Self::PinAuthBlocked => "CTAP2_ERR_PIN_AUTH_BLOCKED",
            Self::PinNotSet => "CTAP2_ERR_PIN_NOT_SET",
            Self::PuatRequired => "CTAP2_ERR_PUAT_REQUIRED",
            Self::PinPolicyViolation => "CTAP2_ERR_PIN_POLICY_VIOLATION",
            Self::RequestTooLarge => "CTAP2_ERR_REQUEST_TOO_LARGE",
            Self::ActionTimeout => "CTAP2_ERR_ACTION_TIMEOUT",
            Self::UpRequired => "CTAP2_ERR_UP_REQUIRED",
            Self::UvBlocked => "CTAP2_ERR_UV_BLOCKED",
            Self::IntegrityFailure => "CTAP2_ERR_INTEGRITY_FAILURE",
            Self::InvalidSubcommand => "CTAP2_ERR_INVALID_SUBCOMMAND",
            Self::UvInvalid => "CTAP2_ERR_UV_INVALID",
            Self::UnauthorizedPermission => "CTAP2_ERR_UNAUTHORIZED_PERMISSION",
            Self::Other => "CTAP1_ERR_OTHER",
        }
    }
}

impl std::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), self.code())
    }
}

impl std::error::Error for StatusCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_byte() {
        for byte in 0..=255u8 {
            if let Some(status) = StatusCode::from_code(byte) {
                assert_eq!(status.code(), byte, "{status}");
            }
        }
        assert_eq!(
            StatusCode::from_code(0x2D),
            Some(StatusCode::KeepaliveCancel)
        );
        assert_eq!(StatusCode::from_code(0x10), None);
    }
}
