//! Validation and normalisation of the codes topics name: callsigns, airlines, airports.
//!
//! Each function returns the code in upper case when it is valid, and `None` otherwise. The
//! same functions check a client's topic and an event's fields, so both sides of a match
//! are normalised alike. Only ASCII is accepted, and only ASCII is upper-cased: Unicode
//! case mapping would let characters such as `ſ` turn into a valid `S`.

/// A callsign: 2 to 8 ASCII letters or digits, such as `AFR9455` or `FHMAC`.
pub fn callsign(value: &str) -> Option<String> {
    let valid = (2..=8).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric());
    valid.then(|| value.to_ascii_uppercase())
}

/// An ICAO airline designator: exactly 3 ASCII letters, such as `AFR`.
pub fn airline(value: &str) -> Option<String> {
    let valid = value.len() == 3 && value.bytes().all(|b| b.is_ascii_alphabetic());
    valid.then(|| value.to_ascii_uppercase())
}

/// An airport: an IATA code of 3 ASCII letters (`CDG`) or an ICAO code of 4 ASCII letters
/// or digits (`LFPG`, `K0B1`).
pub fn airport(value: &str) -> Option<String> {
    let valid = match value.len() {
        3 => value.bytes().all(|b| b.is_ascii_alphabetic()),
        4 => value.bytes().all(|b| b.is_ascii_alphanumeric()),
        _ => false,
    };
    valid.then(|| value.to_ascii_uppercase())
}
