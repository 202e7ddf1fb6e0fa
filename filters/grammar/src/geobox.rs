//! Geographic boxes: the `box:<south>,<west>,<north>,<east>` topic.

use crate::BoxProblem;

/// A box between two parallels and two meridians, edges included. When `west > east` the
/// box crosses the antimeridian: it spans from `west` eastwards through 180 to `east`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoBox {
    /// Southern edge, degrees of latitude, -90 to 90.
    pub south: f64,
    /// Western edge, degrees of longitude, -180 to 180.
    pub west: f64,
    /// Northern edge, degrees of latitude, no less than `south`.
    pub north: f64,
    /// Eastern edge, degrees of longitude, -180 to 180.
    pub east: f64,
}

impl GeoBox {
    /// Parses `south,west,north,east` (the topic after `box:`) as plain decimal degrees.
    ///
    /// Only digits, `.` and a sign are accepted in a number: no spaces, no exponent, no
    /// `inf` or `NaN`. `-0` is read as `0` so that both spellings give the same key.
    pub fn parse(value: &str) -> Result<GeoBox, BoxProblem> {
        let mut numbers = [0.0; 4];
        let mut parts = value.split(',');
        for slot in &mut numbers {
            *slot = parts
                .next()
                .and_then(decimal)
                .ok_or(BoxProblem::Malformed)?;
        }
        if parts.next().is_some() {
            return Err(BoxProblem::Malformed);
        }

        let [south, west, north, east] = numbers;
        let latitude = -90.0..=90.0;
        let longitude = -180.0..=180.0;
        if !latitude.contains(&south) || !latitude.contains(&north) {
            return Err(BoxProblem::Latitude);
        }
        if !longitude.contains(&west) || !longitude.contains(&east) {
            return Err(BoxProblem::Longitude);
        }
        if south > north {
            return Err(BoxProblem::SouthOfNorth);
        }
        Ok(GeoBox {
            south,
            west,
            north,
            east,
        })
    }

    /// The canonical key: `box:` and the four numbers in their shortest form, so
    /// `box:48.50,2,49.5,3.0` and `box:48.5,2.0,49.50,3` share `box:48.5,2,49.5,3`.
    pub fn key(&self) -> String {
        let GeoBox {
            south,
            west,
            north,
            east,
        } = self;
        format!("box:{south},{west},{north},{east}")
    }

    /// Whether the box crosses the antimeridian (longitude ±180).
    pub fn crosses_antimeridian(&self) -> bool {
        self.west > self.east
    }

    /// Whether the point lies inside the box or on its edge.
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        let in_latitude = self.south <= lat && lat <= self.north;
        let in_longitude = if self.crosses_antimeridian() {
            lon >= self.west || lon <= self.east
        } else {
            self.west <= lon && lon <= self.east
        };
        in_latitude && in_longitude
    }
}

/// A plain decimal number such as `-12.5`, `3` or `.5`.
fn decimal(text: &str) -> Option<f64> {
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'-'));
    let number: f64 = text.parse().ok().filter(|_| plain)?;
    // Adding zero turns -0.0 into 0.0 and leaves every other number as it is.
    Some(number + 0.0)
}
