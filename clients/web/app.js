// @ts-check
// The example page: categories, a category's listings with filters and pages, a listing,
// sign-in, saved listings. Plain DOM code; what it shows is how to call the API (api.js).
import { Api, ApiError, signIn } from "./api.js";

/** @typedef {import("./api.js").Listing} Listing */
/** @typedef {import("./api.js").ListingQuery} ListingQuery */

/** @type {{ apiBase: string, cognito: { endpoint: string, region: string, clientId: string } }} */
const config = await (await fetch("config.json", { cache: "no-store" })).json();
const api = new Api(config.apiBase);

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T }} type
 * @returns {T}
 */
function byId(id, type) {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`no #${id} of the expected kind`);
  return element;
}

const message = byId("message", HTMLParagraphElement);
const listings = byId("listings", HTMLUListElement);
const nextPage = byId("next-page", HTMLButtonElement);
const listingPanel = byId("listing", HTMLElement);
const save = byId("save", HTMLButtonElement);
const remove = byId("remove", HTMLButtonElement);

/** What is on screen: the category, the page (its cursor), the filters, the open listing. */
const view = {
  /** @type {string | null} */ category: null,
  /** @type {string | undefined} */ cursor: undefined,
  /** @type {string | null} */ next: null,
  /** @type {ListingQuery} */ filters: {},
  /** @type {Listing | null} */ listing: null,
  /** @type {Set<string>} */ saved: new Set(),
};

/** @param {unknown} error */
function explain(error) {
  if (error instanceof ApiError) {
    const said = error.problem?.detail ?? "";
    const detail = said ? ` (${said})` : "";
    if (error.status === 503) {
      const wait = error.retryAfter === null ? "" : ` Try again in ${error.retryAfter} s.`;
      return `The directory is unavailable right now${detail}: HTTP 503.${wait}`;
    }
    if (error.status === 401) return "Your sign-in has expired: sign in again.";
    return `The API answered HTTP ${error.status}${detail}.`;
  }
  if (error instanceof TypeError) {
    return `The API at ${config.apiBase} could not be reached (network down, or CORS refused).`;
  }
  return String(error);
}

/**
 * Runs `work`, showing what went wrong if it fails.
 * @param {() => Promise<void>} work
 */
async function attempt(work) {
  try {
    await work();
    message.hidden = true;
    delete message.dataset.status;
  } catch (error) {
    message.textContent = explain(error);
    message.dataset.status = error instanceof ApiError ? String(error.status) : "network";
    message.hidden = false;
  }
}

/**
 * @param {HTMLUListElement} list
 * @param {{ label: string, detail?: string, onClick: () => void }[]} rows
 */
function fill(list, rows) {
  list.replaceChildren(
    ...rows.map(({ label, detail, onClick }) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.addEventListener("click", onClick);
      item.append(button);
      if (detail) item.append(` ${detail}`);
      return item;
    }),
  );
}

async function showCategories() {
  const categories = await api.categories();
  fill(
    byId("categories", HTMLUListElement),
    categories.map((category) => ({
      label: `${category.name} (${category.listingCount ?? "?"})`,
      onClick: () => {
        view.category = category.slug;
        view.cursor = undefined;
        byId("category-name", HTMLHeadingElement).textContent = category.name;
        listings.replaceChildren(); // nothing of the previous category stays on screen
        nextPage.hidden = true;
        attempt(showListings);
      },
    })),
  );
}

async function showListings() {
  if (view.category === null) return;
  const page = await api.categoryListings(view.category, {
    ...view.filters,
    limit: 10,
    cursor: view.cursor,
  });
  view.next = page.nextCursor;
  nextPage.hidden = page.nextCursor === null;
  fill(
    listings,
    page.items.map((listing) => ({
      label: listing.title,
      detail: `${listing.remote ? "remote" : listing.location} · ${listing.skills?.join(", ") ?? ""}`,
      onClick: () => attempt(() => showListing(listing.slug)),
    })),
  );
}

/** @param {string} ref */
async function showListing(ref) {
  const listing = await api.listing(ref);
  view.listing = listing;
  byId("listing-title", HTMLHeadingElement).textContent = listing.title;
  byId("listing-summary", HTMLParagraphElement).textContent = listing.summary;
  const income = listing.incomePotential;
  byId("listing-facts", HTMLParagraphElement).textContent =
    `${listing.categoryName} · ${listing.remote ? "remote" : listing.location} · ` +
    `${income.min}-${income.max} ${income.currency} a ${income.period}`;
  listingPanel.hidden = false;
  showSaveButtons();
}

function showSaveButtons() {
  const signedIn = api.token !== null && view.listing !== null;
  const saved = view.listing !== null && view.saved.has(view.listing.id);
  save.hidden = !signedIn || saved;
  remove.hidden = !signedIn || !saved;
}

async function showFavourites() {
  const page = await api.favourites();
  view.saved = new Set(page.items.map((favourite) => favourite.listingId));
  fill(
    byId("favourites", HTMLUListElement),
    page.items.map((favourite) => ({
      label: favourite.listing.title,
      onClick: () => attempt(() => showListing(favourite.listing.slug)),
    })),
  );
  byId("favourites-panel", HTMLElement).hidden = false;
  showSaveButtons();
}

byId("sign-in", HTMLFormElement).addEventListener("submit", (event) => {
  event.preventDefault();
  attempt(async () => {
    const username = byId("username", HTMLInputElement).value;
    const password = byId("password", HTMLInputElement).value;
    api.token = await signIn(config.cognito, username, password);
    const profile = await api.me();
    byId("who", HTMLElement).textContent = profile.displayName || profile.email || profile.sub;
    byId("sign-in", HTMLFormElement).hidden = true;
    byId("signed-in", HTMLParagraphElement).hidden = false;
    await showFavourites();
  });
});

byId("sign-out", HTMLButtonElement).addEventListener("click", () => {
  api.token = null;
  view.saved = new Set();
  byId("sign-in", HTMLFormElement).hidden = false;
  byId("signed-in", HTMLParagraphElement).hidden = true;
  byId("favourites-panel", HTMLElement).hidden = true;
  showSaveButtons();
});

byId("filters", HTMLFormElement).addEventListener("submit", (event) => {
  event.preventDefault();
  const remote = byId("remote", HTMLSelectElement).value;
  const skills = byId("skills", HTMLInputElement).value.split(",").map((s) => s.trim());
  view.filters = {
    location: byId("location", HTMLInputElement).value.trim() || undefined,
    remote: remote === "" ? undefined : remote === "true",
    skills: skills.filter(Boolean).length ? skills.filter(Boolean) : undefined,
  };
  view.cursor = undefined;
  attempt(showListings);
});

nextPage.addEventListener("click", () => {
  view.cursor = view.next ?? undefined;
  attempt(showListings);
});

byId("refresh", HTMLButtonElement).addEventListener("click", () =>
  attempt(async () => {
    await showListings();
    if (view.listing !== null) await showListing(view.listing.id);
    if (api.token !== null) await showFavourites();
  }),
);

save.addEventListener("click", () =>
  attempt(async () => {
    if (view.listing === null) return;
    await api.saveFavourite(view.listing.id);
    await showFavourites();
  }),
);

remove.addEventListener("click", () =>
  attempt(async () => {
    if (view.listing === null) return;
    await api.removeFavourite(view.listing.id);
    await showFavourites();
  }),
);

attempt(showCategories);
