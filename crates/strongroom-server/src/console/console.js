// The console's one script: passkeys (WebAuthn), and the audit explorer's
// proof check. Everything else works without script; so does signing in
// with a password and a code. Served from the binary as /console/console.js
// (the CSP allows no other script, and nothing inline). The browser's
// WebAuthn JSON helpers turn the server's options into a ceremony and its
// result back into JSON; WebCrypto (SHA-256, Ed25519) checks proofs.
"use strict";

(function () {
  /** The session's form token (the header's sign-out form holds it), if signed in. */
  function formToken() {
    const input = document.querySelector('input[name="form_token"]');
    return input ? input.value : "";
  }

  /** POSTs `body` as JSON; the answer's JSON, or an Error with the problem's detail. */
  async function postJson(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Form-Token": formToken() },
      body: JSON.stringify(body === undefined ? {} : body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(answer.detail || answer.title || "refused (" + response.status + ")");
    }
    return answer;
  }

  function say(message) {
    const status = document.getElementById("passkey-status");
    if (status) {
      status.textContent = message;
      status.hidden = !message;
    }
  }

  async function signIn() {
    say("");
    try {
      const options = await postJson("/console/login/passkey/options");
      const credential = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
      });
      const answer = await postJson("/console/login/passkey", credential.toJSON());
      window.location.assign(answer.location);
    } catch (error) {
      say("Signing in with a passkey did not work: " + error.message);
    }
  }

  async function stepUp(form) {
    say("");
    try {
      const options = await postJson("/console/step-up/passkey/options");
      const credential = await navigator.credentials.get({
        publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
      });
      await postJson("/console/step-up/passkey", credential.toJSON());
      window.location.assign(form.dataset.back || "/console");
    } catch (error) {
      say("Confirming with a passkey did not work: " + error.message);
    }
  }

  async function register(form) {
    say("");
    try {
      const options = await postJson("/console/passkeys/options");
      const credential = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options),
      });
      await postJson("/console/passkeys/register", {
        name: form.elements.name.value,
        credential: credential.toJSON(),
      });
      window.location.reload();
    } catch (error) {
      say("The passkey was not added: " + error.message);
    }
  }


  // --- The audit explorer: an event's inclusion proof, checked here ---------------------------
  //
  // As the Python client's verify_event (clients/python/src/strongroom/audit_proof.py): the
  // checkpoint (a C2SP signed note) must carry a valid Ed25519 signature by the pinned verifier
  // key `<name>+<hex id>+<base64(0x01 || key)>`; the entry's bytes hash to the leaf
  // (SHA-256(0x00 || entry)); the RFC 9162 inclusion path leads from that leaf to the
  // checkpoint's root; and the event shown is the entry's.

  const PINNED = "strongroom.audit.pinned-key";
  const bytes = (text) => new TextEncoder().encode(text);
  const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const equal = (a, b) => a.length === b.length && a.every((value, i) => value === b[i]);

  async function sha256(...parts) {
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.length;
    }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", joined));
  }

  async function parseVerifierKey(text) {
    // The base64 key may hold "+" too: the name and id end at the first two.
    const [name, hexId, ...rest] = text.trim().split("+");
    const encoded = rest.join("+");
    if (!name || !hexId || !encoded || hexId.length !== 8) {
      throw new Error("the pinned key is not <name>+<hex id>+<base64 key>");
    }
    const raw = fromBase64(encoded);
    if (raw.length !== 33 || raw[0] !== 1) {
      throw new Error("the pinned key is not an Ed25519 note key");
    }
    const id = Uint8Array.from(hexId.match(/../g), (h) => parseInt(h, 16));
    const expected = (await sha256(bytes(name), bytes("\n"), raw)).slice(0, 4);
    if (!equal(id, expected)) {
      throw new Error("the pinned key's id does not match its name and key");
    }
    const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    return { name, id, key };
  }

  async function openCheckpoint(note, pinned) {
    const split = note.lastIndexOf("\n\n");
    if (split < 0 || !note.endsWith("\n")) {
      throw new Error("the checkpoint is not a signed note");
    }
    const text = note.slice(0, split + 1);
    let verified = false;
    for (const line of note.slice(split + 2).split("\n").filter((l) => l)) {
      if (!line.startsWith("\u2014 ")) {
        throw new Error("a signature line of the checkpoint is malformed");
      }
      const body = line.slice(2);
      const space = body.lastIndexOf(" ");
      const blob = fromBase64(body.slice(space + 1));
      if (body.slice(0, space) !== pinned.name || !equal(blob.slice(0, 4), pinned.id)) {
        continue;
      }
      if (!(await crypto.subtle.verify({ name: "Ed25519" }, pinned.key, blob.slice(4), bytes(text)))) {
        throw new Error("the pinned key's signature on the checkpoint does not verify");
      }
      verified = true;
    }
    if (!verified) {
      throw new Error("the checkpoint is not signed by the pinned key");
    }
    const [origin, size, root] = text.split("\n");
    if (origin !== pinned.name || !/^(0|[1-9][0-9]*)$/.test(size)) {
      throw new Error("the checkpoint is of another log, or malformed");
    }
    return { size: Number(size), root: fromBase64(root) };
  }

  async function rootFromPath(leaf, index, size, path) {
    let fn = index;
    let sn = size - 1;
    let hashed = leaf;
    for (const sibling of path) {
      if (sn === 0) {
        throw new Error("the inclusion path is longer than the tree is deep");
      }
      if (fn % 2 === 1 || fn === sn) {
        hashed = await sha256(Uint8Array.of(1), sibling, hashed);
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      } else {
        hashed = await sha256(Uint8Array.of(1), hashed, sibling);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    if (sn !== 0) {
      throw new Error("the inclusion path is shorter than the tree is deep");
    }
    return hashed;
  }

  /** The same JSON value (objects compared member by member, whatever their order). */
  function sameJson(a, b) {
    if (Array.isArray(a) || Array.isArray(b)) {
      return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
    }
    if (a && b && typeof a === "object" && typeof b === "object") {
      const keys = Object.keys(a);
      return keys.length === Object.keys(b).length && keys.every((k) => sameJson(a[k], b[k]));
    }
    return a === b;
  }

  async function checkProof(form) {
    const result = document.getElementById("proof-result");
    const show = (ok, message) => {
      result.textContent = message;
      result.className = ok ? "ok" : "bad";
      result.hidden = false;
    };
    try {
      const pinnedText = form.elements.pinned.value.trim();
      const pinned = await parseVerifierKey(pinnedText);
      const response = await fetch("/console/audit/" + form.dataset.proof + "/proof", { credentials: "same-origin" });
      if (!response.ok) {
        throw new Error("the proof could not be fetched (" + response.status + ")");
      }
      const proof = await response.json();
      const checkpoint = await openCheckpoint(proof.checkpoint, pinned);
      const inclusion = proof.inclusion;
      if (inclusion.leaf_index !== proof.index || inclusion.tree_size !== checkpoint.size) {
        throw new Error("the inclusion proof is for another leaf or tree than the checkpoint's");
      }
      const entry = fromBase64(proof.entry);
      const leaf = await sha256(Uint8Array.of(0), entry);
      const root = await rootFromPath(leaf, proof.index, checkpoint.size, inclusion.inclusion_path.map(fromBase64));
      if (!equal(root, checkpoint.root)) {
        throw new Error("the event is not in the tree the checkpoint signs");
      }
      if (!sameJson(JSON.parse(new TextDecoder().decode(entry)), proof.event)) {
        throw new Error("the event shown is not the entry proven");
      }
      if (!localStorage.getItem(PINNED)) {
        localStorage.setItem(PINNED, pinnedText);
      }
      show(true, "Verified: event " + proof.index + " is in the tree of " + checkpoint.size +
        " events signed by " + pinned.name + ".");
    } catch (error) {
      show(false, "Not verified: " + error.message);
    }
  }

  async function prepareProofCheck(form) {
    const input = form.elements.pinned;
    const note = document.getElementById("pinned-note");
    const pinned = localStorage.getItem(PINNED);
    if (pinned) {
      input.value = pinned;
      note.textContent = "Pinned in this browser when you first checked a proof.";
    } else {
      const response = await fetch("/v1/audit/public-key");
      input.value = response.ok ? (await response.text()).split("\n")[0] : "";
      note.textContent = "Nothing pinned in this browser yet: this is the key the server shows now. " +
        "Compare it with the one you keep; the first successful check pins it here.";
    }
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      checkProof(form);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const proofForm = document.getElementById("proof-check");
    if (proofForm && window.crypto && crypto.subtle) {
      prepareProofCheck(proofForm);
    }
    const supported =
      window.PublicKeyCredential && typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function";
    if (!supported) {
      return;
    }
    for (const form of document.querySelectorAll("form[data-passkey]")) {
      form.hidden = false;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (form.dataset.passkey === "sign-in") {
          signIn();
        } else if (form.dataset.passkey === "step-up") {
          stepUp(form);
        } else {
          register(form);
        }
      });
    }
  });
})();
