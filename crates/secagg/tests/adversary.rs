//! A dishonest trainer, dishonest clients and a hostile network: every attack is refused
//! with an error that names it, and nothing is unmasked without t shares.

use std::sync::Arc;

use aifactory_secagg::mask::{self, Sign};
use aifactory_secagg::ring;
use aifactory_secagg::shamir;
use aifactory_secagg::{
    Advertise, BoundedVec, Client, ClientId, ClientSeeds, ConsistencyCheck, Error, GraphKind,
    MaskedInput, Round, RoundConfig, RoundId, Server, ShareKeys, ShareKind, Signed, SurvivorList,
    SurvivorSignature, UnmaskRequest, UnmaskResponse, digest, threshold_default,
};
use ed25519_zebra::SigningKey;

fn key(i: usize) -> SigningKey {
    SigningKey::from([i as u8 + 1; 32])
}

fn config(n: usize, params: u32, round: u8) -> RoundConfig {
    RoundConfig {
        round: RoundId([round; 32]),
        roster: BoundedVec::new(
            (0..n)
                .map(|i| <[u8; 32]>::from(key(i).verification_key()))
                .collect(),
        )
        .unwrap(),
        params,
        threshold: threshold_default(n) as u32,
        graph: GraphKind::Complete,
        clip: 1.0,
        value_bits: 16,
        sample_count_max: 100,
        dp: None,
    }
}

fn secret(i: usize) -> [u8; 32] {
    [i as u8 + 100; 32]
}

/// A round driven through phases 0–3 with every client honest, the trainer now collecting
/// unmasking responses.
struct Driven {
    round: Arc<Round>,
    clients: Vec<Client>,
    server: Server,
    list: SurvivorList,
    request: UnmaskRequest,
    inputs: Vec<Signed<MaskedInput>>,
    adverts: Vec<Signed<Advertise>>,
    share_keys: Vec<Signed<ShareKeys>>,
}

/// A round driven through phases 0–2 with every client honest, the trainer about to send
/// survivor lists.
struct Inputs {
    round: Arc<Round>,
    clients: Vec<Client>,
    server: Server,
    inputs: Vec<Signed<MaskedInput>>,
    adverts: Vec<Signed<Advertise>>,
    share_keys: Vec<Signed<ShareKeys>>,
}

fn drive_inputs(config: RoundConfig, update: &dyn Fn(usize) -> Vec<f32>) -> Inputs {
    let n = config.clients();
    let round = Round::new(config).unwrap();
    let mut clients: Vec<Client> = (0..n)
        .map(|i| Client::new(round.clone(), i as ClientId, key(i), &secret(i)).unwrap())
        .collect();
    let mut server = Server::new(round.clone());
    let adverts: Vec<_> = clients.iter_mut().map(|c| c.advertise().unwrap()).collect();
    for a in &adverts {
        server.receive_advertise(a.clone()).unwrap();
    }
    let lists = server.close_advertise().unwrap();
    let mut share_keys = Vec::new();
    for c in clients.iter_mut() {
        let shares = c.share_keys(&lists[&c.id()]).unwrap();
        server.receive_share_keys(shares.clone()).unwrap();
        share_keys.push(shares);
    }
    let bundles = server.close_share_keys().unwrap();
    let mut inputs = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let input = c.masked_input(&bundles[&c.id()], &update(i), 1).unwrap();
        server.receive_masked_input(input.clone()).unwrap();
        inputs.push(input);
    }
    Inputs {
        round,
        clients,
        server,
        inputs,
        adverts,
        share_keys,
    }
}

fn drive_to_lists(n: usize) -> Inputs {
    drive_inputs(config(n, 4, 1), &zeros(4))
}

fn drive(n: usize, params: u32, update: &dyn Fn(usize) -> Vec<f32>) -> Driven {
    let Inputs {
        round,
        mut clients,
        mut server,
        inputs,
        adverts,
        share_keys,
    } = drive_inputs(config(n, params, 1), update);
    let list = server.close_masked_input().unwrap();
    for c in clients.iter_mut() {
        let check = c.consistency_check(&list).unwrap();
        server.receive_consistency_check(check).unwrap();
    }
    let request = server.close_consistency_check().unwrap();
    Driven {
        round,
        clients,
        server,
        list,
        request,
        inputs,
        adverts,
        share_keys,
    }
}

fn zeros(params: u32) -> impl Fn(usize) -> Vec<f32> {
    move |_| vec![0.0; params as usize]
}

#[test]
fn honest_client_reveals_only_for_the_list_it_signed() {
    let mut d = drive(5, 4, &zeros(4));
    let first = d.clients[0].unmask(&d.request).unwrap();
    assert!(
        first
            .body
            .revealed
            .iter()
            .all(|r| r.kind == ShareKind::SelfSeed)
    );
    // The same request again is answered the same way (a retransmission is harmless).
    assert_eq!(d.clients[0].unmask(&d.request).unwrap().body, first.body);
    // Now the trainer claims client 1 dropped, to get its mask-key share too.
    let lie = UnmaskRequest {
        survivors: BoundedVec::new(vec![0, 2, 3, 4]).unwrap(),
        ..d.request.clone()
    };
    assert!(matches!(
        d.clients[0].unmask(&lie),
        Err(Error::BadRequest(reason)) if reason.contains("differs from the one I signed")
    ));
    // And a client signs one list per round.
    assert!(matches!(
        d.clients[0].consistency_check(&lie.list()),
        Err(Error::UnexpectedPhase { .. })
    ));
}

#[test]
fn malformed_survivor_lists_are_refused() {
    let mut d = drive_to_lists(5);
    let id = d.round.config.round;
    let list = |survivors: Vec<ClientId>| SurvivorList {
        round: id,
        survivors: BoundedVec::new(survivors).unwrap(),
    };
    let refuse = |c: &mut Client, l: &SurvivorList| match c.consistency_check(l) {
        Err(Error::BadRequest(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let c = &mut d.clients[0];
    assert!(refuse(c, &list(vec![1, 2, 3, 4])).contains("lists me as dropped"));
    assert!(refuse(c, &list(vec![0, 1, 2])).contains("fewer than the threshold"));
    assert!(refuse(c, &list(vec![0, 2, 1, 3])).contains("sorted"));
    assert_eq!(
        c.consistency_check(&SurvivorList {
            round: RoundId([9; 32]),
            ..list(vec![0, 1, 2, 3, 4])
        }),
        Err(Error::WrongRound {
            kind: "survivor list"
        })
    );
}

#[test]
fn unmask_requests_without_enough_valid_signatures_are_refused() {
    let mut d = drive(5, 4, &zeros(4));
    let t = d.round.threshold();
    let with = |signatures: Vec<SurvivorSignature>| UnmaskRequest {
        signatures: BoundedVec::new(signatures).unwrap(),
        ..d.request.clone()
    };
    let all = d.request.signatures.to_vec();
    assert_eq!(
        d.clients[0]
            .unmask(&with(all[..t - 1].to_vec()))
            .map(|_| ()),
        Err(Error::NotEnoughSignatures {
            whose: "my holders",
            have: t - 1,
            need: t
        })
    );
    let mut forged = all.clone();
    forged[2].signature[0] ^= 1;
    assert_eq!(
        d.clients[0].unmask(&with(forged)).map(|_| ()),
        Err(Error::BadSignature {
            kind: "consistency-check",
            sender: 2
        })
    );
    let mut twice = all.clone();
    twice[1] = twice[0].clone();
    assert!(matches!(
        d.clients[0].unmask(&with(twice)),
        Err(Error::BadRequest(reason)) if reason.contains("signer order")
    ));
    // A signature on another list does not count for this one.
    let other = SurvivorList {
        survivors: BoundedVec::new(vec![0, 1, 2, 3]).unwrap(),
        ..d.list.clone()
    };
    let mut moved = all.clone();
    moved[4].signature = Signed::sign(
        ConsistencyCheck {
            round: d.list.round,
            sender: 4,
            survivors: other.digest(),
        },
        &d.round,
        &key(4),
    )
    .signature;
    assert!(matches!(
        d.clients[0].unmask(&with(moved)),
        Err(Error::BadSignature { sender: 4, .. })
    ));
    assert!(d.clients[0].unmask(&with(all)).is_ok());
}

#[test]
fn forged_and_tampered_messages_fail_their_signature() {
    let round = Round::new(config(4, 4, 1)).unwrap();
    let mut server = Server::new(round.clone());
    let mut honest = Client::new(round.clone(), 0, key(0), &secret(0)).unwrap();
    let advert = honest.advertise().unwrap();
    // Someone else's key signing as client 0.
    let forged = Signed::sign(advert.body.clone(), &round, &key(3));
    assert_eq!(
        server.receive_advertise(forged),
        Err(Error::BadSignature {
            kind: "advertise",
            sender: 0
        })
    );
    // Client 0's real signature over a body with a swapped key.
    let mut tampered = advert.clone();
    tampered.body.mask_public = advert.body.cipher_public;
    assert_eq!(
        server.receive_advertise(tampered),
        Err(Error::BadSignature {
            kind: "advertise",
            sender: 0
        })
    );
    assert_eq!(server.receive_advertise(advert), Ok(()));
}

#[test]
fn replays_across_rounds_and_message_kinds_are_rejected() {
    let round_a = Round::new(config(4, 4, 1)).unwrap();
    let round_b = Round::new(config(4, 4, 2)).unwrap();
    let mut server_b = Server::new(round_b);
    let advert_a = Client::new(round_a, 0, key(0), &secret(0))
        .unwrap()
        .advertise()
        .unwrap();
    // Replayed as is: the body names round A.
    assert_eq!(
        server_b.receive_advertise(advert_a.clone()),
        Err(Error::WrongRound { kind: "advertise" })
    );
    // Re-labelled as round B: the signature was over round A.
    let mut relabelled = advert_a.clone();
    relabelled.body.round = RoundId([2; 32]);
    assert_eq!(
        server_b.receive_advertise(relabelled),
        Err(Error::BadSignature {
            kind: "advertise",
            sender: 0
        })
    );

    // A signature made under the advertise namespace does not verify as a masked input, even
    // over the very digest of the masked input's body.
    let d = drive(4, 4, &zeros(4));
    let body = d.inputs[0].body.clone();
    let mut as_advert = b"aifactory/secagg/v1/advertise\0".to_vec();
    as_advert.extend_from_slice(&d.round.digest);
    as_advert.extend_from_slice(&digest(&body));
    let cross = Signed {
        body,
        signature: key(0).sign(&as_advert).to_bytes(),
    };
    // A fresh trainer replaying phases 0 and 1, now waiting for masked inputs.
    let mut fresh = Server::new(d.round.clone());
    for a in &d.adverts {
        fresh.receive_advertise(a.clone()).unwrap();
    }
    fresh.close_advertise().unwrap();
    for s in &d.share_keys {
        fresh.receive_share_keys(s.clone()).unwrap();
    }
    fresh.close_share_keys().unwrap();
    assert_eq!(
        fresh.receive_masked_input(cross),
        Err(Error::BadSignature {
            kind: "masked-input",
            sender: 0
        })
    );
    assert_eq!(fresh.receive_masked_input(d.inputs[0].clone()), Ok(()));
}

#[test]
fn reordered_and_duplicate_messages_are_rejected() {
    let round = Round::new(config(4, 4, 1)).unwrap();
    let mut server = Server::new(round.clone());
    let mut client = Client::new(round.clone(), 0, key(0), &secret(0)).unwrap();
    let advert = client.advertise().unwrap();
    assert_eq!(
        client.advertise().map(|_| ()),
        Err(Error::UnexpectedPhase {
            party: "client",
            phase: "share-keys",
            got: "advertise step"
        })
    );
    let early = UnmaskRequest {
        round: round.config.round,
        survivors: BoundedVec::new(vec![0, 1, 2]).unwrap(),
        signatures: BoundedVec::default(),
    };
    assert_eq!(
        client.unmask(&early).map(|_| ()),
        Err(Error::UnexpectedPhase {
            party: "client",
            phase: "share-keys",
            got: "unmask request"
        })
    );
    server.receive_advertise(advert.clone()).unwrap();
    assert_eq!(
        server.receive_advertise(advert),
        Err(Error::Duplicate {
            kind: "advertise",
            sender: 0
        })
    );
    assert_eq!(
        server.finish().map(|_| ()),
        Err(Error::UnexpectedPhase {
            party: "trainer",
            phase: "advertise",
            got: "close of unmask"
        })
    );
}

#[test]
fn share_keys_from_a_client_that_did_not_advertise_are_rejected() {
    let round = Round::new(config(4, 4, 1)).unwrap();
    let mut server = Server::new(round.clone());
    let mut clients: Vec<Client> = (0..4)
        .map(|i| Client::new(round.clone(), i as ClientId, key(i), &secret(i)).unwrap())
        .collect();
    let adverts: Vec<_> = clients.iter_mut().map(|c| c.advertise().unwrap()).collect();
    for a in &adverts[..3] {
        server.receive_advertise(a.clone()).unwrap();
    }
    let lists = server.close_advertise().unwrap();
    // Client 3's advert never reached the trainer; it builds shares from a list of its own making.
    let mut own_list = lists[&0].clone();
    own_list.adverts.push(adverts[3].clone()).unwrap();
    let mut others = own_list.clone();
    others.adverts.retain(|a| a.body.sender != 0);
    let shares = clients[3].share_keys(&others);
    assert!(shares.is_ok());
    assert!(matches!(
        server.receive_share_keys(shares.unwrap()),
        Err(Error::Unexpected {
            kind: "share-keys",
            ..
        })
    ));
}

#[test]
fn altered_sealed_share_is_caught_by_its_recipient() {
    let round = Round::new(config(3, 4, 1)).unwrap();
    let mut server = Server::new(round.clone());
    let mut clients: Vec<Client> = (0..3)
        .map(|i| Client::new(round.clone(), i as ClientId, key(i), &secret(i)).unwrap())
        .collect();
    for c in clients.iter_mut() {
        server.receive_advertise(c.advertise().unwrap()).unwrap();
    }
    let lists = server.close_advertise().unwrap();
    for c in clients.iter_mut() {
        server
            .receive_share_keys(c.share_keys(&lists[&c.id()]).unwrap())
            .unwrap();
    }
    let mut bundles = server.close_share_keys().unwrap();
    let bundle = bundles.get_mut(&0).unwrap();
    bundle.shares[0].sealed[5] ^= 0x40;
    assert_eq!(
        clients[0].masked_input(bundle, &[0.0; 4], 1).map(|_| ()),
        Err(Error::Decrypt { from: 1, to: 0 })
    );
}

#[test]
fn altered_revealed_share_is_caught_and_its_holder_named() {
    let mut d = drive(5, 4, &zeros(4));
    let mut response = d.clients[2].unmask(&d.request).unwrap();
    // Client 2 lies about its share of client 4 and signs the lie with its own key.
    response.body.revealed[4].share[0] ^= 1;
    let lie = Signed::sign(response.body, &d.round, &key(2));
    assert_eq!(
        d.server.receive_unmask_response(lie),
        Err(Error::BadShare {
            holder: 2,
            owner: 4
        })
    );
}

#[test]
fn low_order_keys_are_refused_at_the_trainer() {
    let round = Round::new(config(3, 4, 1)).unwrap();
    let mut server = Server::new(round.clone());
    let body = Advertise {
        round: round.config.round,
        sender: 1,
        cipher_public: [0; 32],
        mask_public: [0; 32],
    };
    assert_eq!(
        server.receive_advertise(Signed::sign(body, &round, &key(1))),
        Err(Error::LowOrderKey(1))
    );
}

#[test]
fn trainer_without_t_shares_cannot_unmask_any_client() {
    let n = 7;
    let params = 64;
    let update = |i: usize| vec![0.1 * i as f32; 64];
    let mut d = drive(n, params, &update);
    let t = d.round.threshold();
    let responses: Vec<Signed<UnmaskResponse>> = d
        .clients
        .iter_mut()
        .map(|c| c.unmask(&d.request).unwrap())
        .collect();
    for r in &responses[..t - 1] {
        d.server.receive_unmask_response(r.clone()).unwrap();
    }
    assert!(
        matches!(d.server.finish(), Err(Error::NotEnoughShares { have, need, .. }) if have == t - 1 && need == t)
    );

    // Even doing the interpolation itself with t - 1 shares of client 0's self-mask seed
    // gives a wrong seed, and stripping that mask leaves client 0's input hidden.
    let points: Vec<(u64, shamir::Share)> = responses[..t - 1]
        .iter()
        .map(|r| (shamir::x_of(r.body.sender), r.body.revealed[0].share))
        .collect();
    let true_seed = ClientSeeds::derive(&secret(0), &d.round.config.round).self_seed;
    assert_ne!(shamir::combine(&points), Some(true_seed));
    // With t shares the seed comes back.
    let points: Vec<_> = responses[..t]
        .iter()
        .map(|r| (shamir::x_of(r.body.sender), r.body.revealed[0].share))
        .collect();
    assert_eq!(shamir::combine(&points), Some(true_seed));
}

/// Pearson's chi-square of the top four bits of `values` against uniform (15 degrees of freedom).
fn chi_square_top_bits(values: &[u64], bits: u32) -> f64 {
    let mut counts = [0f64; 16];
    values
        .iter()
        .for_each(|v| counts[(v >> (bits - 4)) as usize & 15] += 1.0);
    let expected = values.len() as f64 / 16.0;
    counts
        .iter()
        .map(|c| (c - expected).powi(2) / expected)
        .sum()
}

#[test]
fn a_masked_input_alone_is_indistinguishable_from_uniform() {
    let params = 16_384u32;
    // The most structured input there is: every client sends all zeros.
    let d = drive(3, params, &zeros(params));
    let bits = d.round.modulus_bits;
    let len = d.round.config.vector_len();
    for input in &d.inputs {
        let values = ring::unpack(&input.body.masked, bits, len).unwrap();
        // Every bit position is set about half the time (5 standard deviations).
        let sigma = 0.5 / (len as f64).sqrt();
        for bit in 0..bits {
            let ones = values.iter().filter(|v| (*v >> bit) & 1 == 1).count() as f64 / len as f64;
            assert!((ones - 0.5).abs() < 5.0 * sigma, "bit {bit} set {ones}");
        }
        // The top bits are uniform: chi-square below its 1e-5 critical value (15 dof: 44.3).
        let chi = chi_square_top_bits(&values, bits);
        assert!(chi < 44.3, "chi-square {chi}");
    }
    // The same test does tell structure apart: the unmasked input fails it by far.
    let seeds = ClientSeeds::derive(&secret(0), &d.round.config.round);
    let plain = aifactory_secagg::encode_input(&d.round, 0, &vec![0.0; params as usize], 1, &seeds)
        .unwrap();
    assert!(chi_square_top_bits(&plain, bits) > 1000.0);
    // And stripping only the self mask (no pairwise masks) still leaves it uniform.
    let mut partly = ring::unpack(&d.inputs[0].body.masked, bits, len).unwrap();
    mask::apply(&mut partly, &seeds.self_seed, Sign::Minus);
    ring::reduce(&mut partly, bits);
    assert!(chi_square_top_bits(&partly, bits) < 44.3);
}

/// A trainer that shows each honest client the survivor list `list_for(client)` (every client
/// survived in truth), signs whatever it likes for the `colluders`, asks every honest client to
/// unmask with every signature it has on that client's list, and adds both shares of every
/// secret the colluders hold. Returns the honest clients whose input it can strip of every
/// mask: their self-mask seed and, for each honest neighbour, one of the two mask keys.
fn unmasked_by_list_attack(
    config: RoundConfig,
    colluders: &[ClientId],
    list_for: &dyn Fn(ClientId) -> Vec<ClientId>,
) -> Vec<ClientId> {
    let Inputs {
        round, mut clients, ..
    } = drive_inputs(config, &zeros(4));
    let n = clients.len() as ClientId;
    let honest: Vec<ClientId> = (0..n).filter(|c| !colluders.contains(c)).collect();
    let list_of = |c: ClientId| SurvivorList {
        round: round.config.round,
        survivors: BoundedVec::new(list_for(c)).unwrap(),
    };
    // Phase 3: each honest client signs its own list, if it accepts it.
    let mut signed: Vec<(SurvivorList, SurvivorSignature)> = Vec::new();
    for c in &honest {
        if let Ok(check) = clients[*c as usize].consistency_check(&list_of(*c)) {
            let signature = SurvivorSignature {
                signer: *c,
                signature: check.signature,
            };
            signed.push((list_of(*c), signature));
        }
    }
    // Phase 4: every signature the trainer has, or can have a colluder make, on each list.
    let mut revealed: Vec<(ClientId, ClientId, ShareKind, shamir::Share)> = Vec::new();
    for c in &honest {
        let list = list_of(*c);
        let mut signatures: Vec<SurvivorSignature> = signed
            .iter()
            .filter(|(l, _)| *l == list)
            .map(|(_, s)| s.clone())
            .collect();
        for colluder in colluders.iter().filter(|x| list.survivors.contains(x)) {
            let body = ConsistencyCheck {
                round: list.round,
                sender: *colluder,
                survivors: list.digest(),
            };
            signatures.push(SurvivorSignature {
                signer: *colluder,
                signature: Signed::sign(body, &round, &key(*colluder as usize)).signature,
            });
        }
        signatures.sort_by_key(|s| s.signer);
        let request = UnmaskRequest {
            round: list.round,
            survivors: list.survivors.clone(),
            signatures: BoundedVec::new(signatures).unwrap(),
        };
        if let Ok(response) = clients[*c as usize].unmask(&request) {
            revealed.extend(
                response
                    .body
                    .revealed
                    .iter()
                    .map(|r| (*c, r.owner, r.kind, r.share)),
            );
        }
    }
    for colluder in colluders {
        for (owner, seed, key) in clients[*colluder as usize].collude() {
            revealed.push((*colluder, owner, ShareKind::SelfSeed, seed));
            revealed.push((*colluder, owner, ShareKind::MaskKey, key));
        }
    }
    let rebuilt = |owner: ClientId, kind: ShareKind| -> Option<[u8; 32]> {
        let points: std::collections::BTreeMap<u64, shamir::Share> = revealed
            .iter()
            .filter(|(_, o, k, _)| *o == owner && *k == kind)
            .map(|(holder, _, _, share)| (shamir::x_of(*holder), *share))
            .collect();
        let points: Vec<(u64, shamir::Share)> =
            points.into_iter().take(round.threshold()).collect();
        (points.len() == round.threshold())
            .then(|| shamir::combine(&points))
            .flatten()
    };
    let seeds = |c: ClientId| ClientSeeds::derive(&secret(c as usize), &round.config.round);
    let key_known = |c: ClientId| {
        colluders.contains(&c) || rebuilt(c, ShareKind::MaskKey) == Some(seeds(c).mask_secret)
    };
    honest
        .iter()
        .copied()
        .filter(|target| {
            rebuilt(*target, ShareKind::SelfSeed) == Some(seeds(*target).self_seed)
                && (key_known(*target)
                    || round.graph.neighbours(*target).into_iter().all(key_known))
        })
        .collect()
}

/// Issue 13's demonstration: five clients on the complete graph, client 4 colluding, and a
/// different survivor list for each honest client, chosen so that the holders asked reveal
/// client 0's self-mask seed and its neighbours' mask keys.
#[test]
fn trainer_sending_different_survivor_lists_cannot_unmask_a_client() {
    let lists = [vec![0, 3, 4], vec![0, 1, 4], vec![0, 2, 4], vec![0, 3, 4]];
    let unmasked = unmasked_by_list_attack(config(5, 4, 1), &[4], &|c| lists[c as usize].clone());
    assert_eq!(unmasked, Vec::<ClientId>::new());
    // Two camps, each with the colluder: {0, 1} see 2 and 3 dropped, {2, 3} see 1 dropped.
    let camp = |c: ClientId| {
        if c < 2 {
            vec![0, 1, 4]
        } else {
            vec![0, 2, 3, 4]
        }
    };
    assert_eq!(
        unmasked_by_list_attack(config(5, 4, 1), &[4], &camp),
        Vec::<ClientId>::new()
    );
}

/// A trainer that sends every client a different list (client c is told c + 1 dropped), on
/// the complete graph and on SecAgg+, with no colluder and with as many as the bound allows.
#[test]
fn trainer_sending_every_client_a_different_list_cannot_unmask_anyone() {
    for (n, plus) in [(7, false), (24, true)] {
        let mut config = config(n, 4, 1);
        if plus {
            config.graph = GraphKind::secagg_plus(n, [7; 32]);
            let holders = aifactory_secagg::Graph::new(&config.graph, n)
                .unwrap()
                .degree()
                + 1;
            config.threshold = threshold_default(holders) as u32;
        }
        let bound = Round::new(config.clone()).unwrap().colluders_max();
        assert!(bound >= 1, "n = {n}: the default tolerates a colluder");
        let n = n as ClientId;
        let list = |c: ClientId| (0..n).filter(|v| *v != (c + 1) % n).collect::<Vec<_>>();
        for colluders in [vec![], (0..bound as ClientId).map(|i| n - 1 - i).collect()] {
            let unmasked = unmasked_by_list_attack(config.clone(), &colluders, &list);
            assert_eq!(
                unmasked,
                Vec::<ClientId>::new(),
                "n = {n}, colluders {colluders:?}"
            );
        }
    }
}

/// The same machinery finds the attack when the lists are consistent but the colluders are
/// more than the bound: it is a real adversary, not one that always fails.
#[test]
fn colluders_beyond_the_bound_do_unmask_a_client() {
    let config = config(5, 4, 1);
    let t = config.threshold as ClientId;
    // t colluders hold t shares of client 0's two secrets between them.
    let colluders: Vec<ClientId> = (1..=t).collect();
    let everyone = |_| vec![0, 1, 2, 3, 4];
    assert_eq!(
        unmasked_by_list_attack(config, &colluders, &everyone),
        vec![0]
    );
}

/// A malicious client can choose its masked weight so the survivors' weights sum to zero
/// modulo 2^k (or to more than they could claim); reading the mean is then an error.
#[test]
fn a_zero_or_impossible_weight_total_is_an_error_not_a_panic() {
    let config = config(5, 2, 1);
    let aggregate = |weight: u64| aifactory_secagg::Aggregate {
        survivors: vec![0, 1, 2, 3, 4],
        sums: vec![7, 9, weight],
        modulus_bits: Round::new(config.clone()).unwrap().modulus_bits,
    };
    let too_much = 5 * u64::from(config.sample_count_max) + 1;
    for weight in [0, too_much] {
        assert!(matches!(
            aggregate(weight).mean(&config),
            Err(Error::WeightTotal { .. })
        ));
    }
    assert!(aggregate(5).mean(&config).is_ok());
}
