// Sign-in with an injected wallet (EIP-1193, e.g. MetaMask): the market's EIP-4361
// message, signed with personal_sign, traded for a session. Our own code: the only
// script the console needs besides htmx.
"use strict";

function hex(text) {
  return "0x" + Array.from(new TextEncoder().encode(text))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function walletSignIn() {
  const shown = document.getElementById("signin-error");
  const fail = (text) => { shown.textContent = text; shown.hidden = false; };
  if (!window.ethereum) {
    fail("No browser wallet found: install one (e.g. MetaMask), or use the development wallet.");
    return;
  }
  try {
    const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
    const asked = await fetch("/signin/nonce", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ address }),
    });
    const issued = await asked.json();
    if (!asked.ok) { fail(issued.error); return; }
    const signature = await window.ethereum.request({
      method: "personal_sign", params: [hex(issued.message), address],
    });
    const done = await fetch("/signin", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: issued.message, signature }),
    });
    if (!done.ok) { fail((await done.json()).error); return; }
    window.location.assign("/");
  } catch (err) {
    fail("The wallet did not sign: " + (err && err.message ? err.message : err));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("wallet-signin");
  if (button) button.addEventListener("click", walletSignIn);
});
