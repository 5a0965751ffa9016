// The injected wallet (EIP-1193, e.g. MetaMask), for the two things only it can do:
// sign in (the market's EIP-4361 message, signed with personal_sign, traded for a
// session) and claim a final withdrawal on L1 (the console builds Rollup.withdraw's
// transaction, the wallet sends it). Our own code: the only script the console needs
// besides htmx. Every text is set with textContent: nothing here writes HTML.
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

// Withdrawals whose claim the wallet sent: their buttons stay disabled across the
// rollup page's refreshes until the row says "claimed".
const claimsSent = new Map();

function claimSays(text, problem) {
  const status = document.getElementById("claim-status");
  const error = document.getElementById("claim-error");
  status.hidden = problem; error.hidden = !problem;
  (problem ? error : status).textContent = text;
}

function markSent() {
  for (const [index, hash] of claimsSent) {
    const button = document.getElementById("claim-" + index);
    if (button) { button.disabled = true; button.textContent = "Claim sent"; button.title = hash; }
  }
}

async function walletClaim(form) {
  const index = form.dataset.exit;
  const button = form.querySelector("button");
  const wallet = window.ethereum;
  if (!wallet) {
    claimSays("No browser wallet found: install one (e.g. MetaMask), or claim with the command shown.", true);
    return;
  }
  button.disabled = true;
  try {
    const asked = await fetch("/rollup/exits/" + encodeURIComponent(index) + "/claim-tx", {
      method: "POST", headers: { "x-csrf-token": form.elements.csrf.value },
    });
    const built = await asked.json().catch(() => ({ error: "the console answered " + asked.status }));
    if (!asked.ok) { claimSays(built.error + (built.fix ? ": " + built.fix : ""), true); return; }
    const tx = built.tx;
    const [account] = await wallet.request({ method: "eth_requestAccounts" });
    if (!account || account.toLowerCase() !== tx.from.toLowerCase()) {
      claimSays("Your wallet's account is " + account + ", not the signed-in " + tx.from
        + ": switch accounts in the wallet and claim again.", true);
      return;
    }
    if (BigInt(await wallet.request({ method: "eth_chainId" })) !== BigInt(tx.chainId)) {
      try {
        await wallet.request({ method: "wallet_switchEthereumChain", params: [{ chainId: tx.chainId }] });
      } catch (err) { /* told below */ }
      const now = await wallet.request({ method: "eth_chainId" });
      if (BigInt(now) !== BigInt(tx.chainId)) {
        claimSays("Your wallet is on chain " + BigInt(now) + ", not the rollup's L1 (chain "
          + BigInt(tx.chainId) + "): switch it to that chain and claim again.", true);
        return;
      }
    }
    claimSays("Confirm the claim of withdrawal " + index + " in your wallet…", false);
    const hash = await wallet.request({ method: "eth_sendTransaction", params: [tx] });
    if (!/^0x[0-9a-fA-F]{64}$/.test(String(hash))) {
      claimSays("The wallet answered something that is not a transaction hash: " + hash, true);
      return;
    }
    claimsSent.set(index, hash);
    markSent();
    claimSays("Claim of withdrawal " + index + " sent: transaction " + hash
      + ". Its row turns to claimed once L1 includes it.", false);
  } catch (err) {
    if (err && err.code === 4001) {
      claimSays("You rejected the claim in your wallet: nothing was sent, and withdrawal "
        + index + " is still yours to claim.", true);
    } else {
      claimSays("The wallet did not send the claim: " + (err && err.message ? err.message : err), true);
    }
  } finally {
    if (!claimsSent.has(index) && document.body.contains(button)) button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("wallet-signin");
  if (button) button.addEventListener("click", walletSignIn);
});

// The Claim forms are swapped in by htmx every few seconds: listen on the document.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.classList.contains("wallet-claim")) {
    event.preventDefault();
    walletClaim(form);
  }
});
document.addEventListener("htmx:afterSwap", markSent);
