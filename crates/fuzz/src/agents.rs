//! Targets for what agents read from other parties: a provider's update or a trainer's
//! aggregate blob (`aifactory_agents::wire`).

use aifactory_agents::wire::Weighted;

/// Decodes an update blob, the model's parameter count taken from the first two bytes; one that
/// decodes must re-encode to exactly the bytes it came from.
pub fn agent_update(data: &[u8]) {
    let [a, b, blob @ ..] = data else {
        return;
    };
    let expected = usize::from(u16::from_le_bytes([*a, *b]));
    if let Ok(update) = Weighted::decode(blob, expected) {
        assert_eq!(update.encode(), blob, "an update has exactly one encoding");
    }
}
