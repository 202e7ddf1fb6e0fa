//! The standard filter's state across admit, route and release.

use flightcast_grammar::{Admitted, EventView, Router, TopicError};

fn over_paris() -> EventView<'static> {
    EventView {
        kind: "position",
        lat: Some(48.5),
        lon: Some(2.5),
        ..EventView::default()
    }
}

#[test]
fn admitting_gives_the_canonical_key() {
    let mut router = Router::new();
    let admitted = router.admit(" flight:afr9455 ").unwrap();
    assert_eq!(
        admitted,
        Admitted {
            key: "flight:AFR9455".into(),
            new_box: false
        }
    );
    assert!(router.boxes().is_empty());
}

#[test]
fn refusals_leave_no_state() {
    let mut router = Router::new();
    assert!(matches!(router.admit("box:1,2"), Err(TopicError::Box(..))));
    assert!(matches!(router.admit("foo"), Err(TopicError::Unknown(_))));
    assert_eq!(router, Router::new());
}

#[test]
fn a_box_is_new_only_the_first_time_however_written() {
    let mut router = Router::new();
    assert!(router.admit("box:48,2,49,3").unwrap().new_box);
    let again = router.admit("BOX:48.0,2.00,49,3.0").unwrap();
    assert_eq!(
        again,
        Admitted {
            key: "box:48,2,49,3".into(),
            new_box: false
        }
    );
    assert_eq!(router.boxes().len(), 1);
}

#[test]
fn admitted_boxes_route_until_released() {
    let mut router = Router::new();
    router.admit("box:48,2,49,3").unwrap();
    assert_eq!(router.keys(&over_paris()), ["all", "box:48,2,49,3"]);

    assert!(!router.release("all"));
    assert!(router.release("box:48,2,49,3"));
    assert_eq!(router.keys(&over_paris()), ["all"]);
}
