//! The borrowed view of a flight event that the grammar matches against.

/// The fields of a flight event that topics can select on, borrowed from the filter's own
/// event record. Absent or null fields are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EventView<'a> {
    /// `position` or `status`.
    pub kind: &'a str,
    /// For status events, such as `first_seen`, `departed` or `landed`.
    pub status: Option<&'a str>,
    /// ATC callsign such as `AFR9455`.
    pub callsign: Option<&'a str>,
    /// ICAO airline designator such as `AFR`.
    pub airline_icao: Option<&'a str>,
    /// Departure airport, ICAO code (`LFPG`).
    pub origin: Option<&'a str>,
    /// Departure airport, IATA code (`CDG`).
    pub origin_iata: Option<&'a str>,
    /// Arrival airport, ICAO code.
    pub destination: Option<&'a str>,
    /// Arrival airport, IATA code.
    pub destination_iata: Option<&'a str>,
    /// Latitude in degrees, WGS 84.
    pub lat: Option<f64>,
    /// Longitude in degrees, WGS 84.
    pub lon: Option<f64>,
}

impl<'a> EventView<'a> {
    /// The four airport codes of the event, ICAO and IATA for origin and destination, in
    /// that order; any of them may be absent.
    pub fn airports(&self) -> [Option<&'a str>; 4] {
        [
            self.origin,
            self.origin_iata,
            self.destination,
            self.destination_iata,
        ]
    }

    /// The event's position as `(lat, lon)`, when it has both coordinates.
    pub fn position(&self) -> Option<(f64, f64)> {
        Some((self.lat?, self.lon?))
    }
}
