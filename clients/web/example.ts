// The smallest typed call: the types come from the API's OpenAPI document (openapi.d.ts).
import type { paths } from "./openapi";

type Listings = paths["/v1/categories/{ref}/listings"]["get"];
type ListingPage = Listings["responses"][200]["content"]["application/json"];

export async function remoteTitles(api: string, category: string): Promise<string[]> {
  const response = await fetch(`${api}/v1/categories/${encodeURIComponent(category)}/listings?remote=true`);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const page: ListingPage = await response.json();
  return page.items.map((listing) => `${listing.title} (${listing.incomePotential.currency})`);
}
