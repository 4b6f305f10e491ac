// The payment page's script (web/templates/pay.html): its words come from the page's JSON block.
(async () => {
  // The page's words, in its language, from the message catalogues (see web/routes/pay.py).
  const words = JSON.parse(document.getElementById("words").textContent);
  const orderId = words.order_id;
  const local = words.local;
  const secret = decodeURIComponent(location.hash.slice(1));
  const message = document.getElementById("message");
  const button = document.getElementById("pay");
  const say = (text, kind) => { message.textContent = text; message.className = kind || ""; };
  // Every message in the page's language: the server's and the stand-in's words are English, so they are
  // told apart by status and code here, never shown as they are.
  const post = async (path, body) => {
    let response;
    try {
      response = await fetch(`/pay/${orderId}/${path}`, {
        method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
      });
    } catch (error) {
      throw new Error(words.unreachable);
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(words.problems[response.status] || words.failed.replace("{status}", response.status));
    return data;
  };
  // Money as the web pages write it: "1 234,50 kr" in Swedish, "SEK 1,234.50" in English (plain spaces).
  const money = new Intl.NumberFormat(words.locale, {style: "currency", currency: "SEK", currencyDisplay: words.currency_display});
  const kronor = (ore) => money.format(ore / 100).replace(/[\u00a0\u202f]/g, " ").replace("\u2212", "-");

  if (!secret) { say(words.no_key, "error"); return; }
  let summary;
  try { summary = await post("summary", {secret}); } catch (error) { say(error.message, "error"); return; }
  document.getElementById("total").textContent = kronor(summary.total_ore);
  const lines = document.getElementById("lines");
  for (const line of summary.lines) {
    const row = lines.insertRow();
    row.insertCell().textContent = line.title;
    row.insertCell().textContent = `× ${line.quantity}`;
  }
  if (summary.order_status !== "placed") { say(words.already_paid, "paid"); return; }

  // Real Stripe speaks the page's language itself (its own fields and messages); the local stand-in's fields
  // are named here.
  const stripe = Stripe(words.publishable_key, {locale: words.language});
  const card = stripe.elements({locale: words.language}).create("card");
  card.mount("#card");
  const standIn = {};
  if (local) {
    document.getElementById("test-cards").hidden = false;
    const sizes = {number: 19, exp_month: 3, exp_year: 5, cvc: 4, postal_code: 7};
    for (const input of document.querySelectorAll("#card input")) {
      const field = input.getAttribute("placeholder");
      if (!(field in sizes)) continue;
      standIn[field] = input;
      input.setAttribute("placeholder", words.fields[field][0]);
      input.setAttribute("size", sizes[field]);
      input.setAttribute("aria-label", words.fields[field][1]);
      input.setAttribute("inputmode", "numeric");
      input.setAttribute("autocomplete", "off");
    }
  }
  // The stand-in takes two-digit years only (it puts "20" in front): a four-digit one is shortened first.
  const twoDigitYear = () => {
    const year = standIn.exp_year;
    if (year && /^20\d\d$/.test(year.value.trim())) {
      year.value = year.value.trim().slice(2);
      year.dispatchEvent(new Event("input", {bubbles: true}));
    }
  };
  button.disabled = false;

  const waitUntilPaid = async () => {
    for (let attempt = 0; attempt < 60; attempt++) {
      const now = await post("summary", {secret});
      if (now.order_status !== "placed") { say(words.paid, "paid"); return; }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    say(words.not_confirmed);
  };

  document.getElementById("payment").addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    say(words.paying);
    try {
      if (local) {
        // The local Stripe stand-in cannot take a card in confirmCardPayment: tokenise it,
        // let the server attach it, and use confirmCardPayment for 3-D Secure only.
        twoDigitYear();
        const {token, error} = await stripe.createToken(card);
        if (error) throw new Error((error.code || "").includes("declined") ? words.declined : words.unreadable);
        const result = await post("card", {secret, token: token.id});
        if (result.status === "declined") throw new Error(words.declined);
        if (result.status === "requires_action") {
          const authenticated = await stripe.confirmCardPayment(secret);
          if (authenticated.error) throw new Error(words.not_authenticated);
        }
      } else {
        // Stripe.js, made with the page's locale, words its own messages in that language.
        const result = await stripe.confirmCardPayment(secret, {payment_method: {card}});
        if (result.error) throw new Error(result.error.message || words.declined);
      }
      await waitUntilPaid();
    } catch (error) {
      say(error.message, "error");
      button.disabled = false;
    }
  });
})();
