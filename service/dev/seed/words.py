"""Word lists the demo data is built from: twelve categories, each with its own vocabulary."""

from __future__ import annotations

from typing import NamedTuple


class Theme(NamedTuple):
    slug: str
    name: str
    description: str
    roles: tuple[str, ...]
    skills: tuple[str, ...]
    income: tuple[int, int, str]  # min, max, period


THEMES: tuple[Theme, ...] = (
    Theme("freelance-writing", "Freelance Writing", "Words for blogs, brands and newsletters.",
          ("Blog writer", "Copywriter", "Newsletter editor", "Ghostwriter", "Technical writer"),
          ("writing", "editing", "SEO", "research", "storytelling"), (200, 3000, "month")),
    Theme("tutoring", "Online Tutoring", "Teach what you know, one learner at a time.",
          ("Maths tutor", "Language tutor", "Exam coach", "Coding mentor", "Music teacher"),
          ("teaching", "patience", "curriculum design", "video calls"), (15, 60, "hour")),
    Theme("design", "Graphic Design", "Logos, layouts and social graphics for small businesses.",
          ("Logo designer", "Social media designer", "Brochure designer", "Icon illustrator"),
          ("Figma", "Illustrator", "branding", "typography"), (100, 2500, "project")),
    Theme("delivery", "Local Delivery", "Flexible hours moving food and parcels around town.",
          ("Food courier", "Parcel driver", "Grocery shopper", "Bike messenger"),
          ("driving", "navigation", "time management"), (12, 25, "hour")),
    Theme("pet-care", "Pet Care", "Walking, sitting and boarding for the neighbourhood's pets.",
          ("Dog walker", "Pet sitter", "Cat visitor", "Pet groomer"),
          ("animal care", "reliability", "first aid"), (10, 30, "hour")),
    Theme("reselling", "Reselling", "Find underpriced goods and sell them on.",
          ("Vintage reseller", "Sneaker flipper", "Book scout", "Furniture flipper"),
          ("negotiation", "photography", "pricing", "marketplaces"), (100, 2000, "month")),
    Theme("web-development", "Web Development", "Sites and small apps for local businesses.",
          ("WordPress developer", "Shopify builder", "Landing page developer", "Web fixer"),
          ("HTML", "CSS", "JavaScript", "WordPress", "Python"), (300, 5000, "project")),
    Theme("photography", "Photography", "Events, portraits and product shots.",
          ("Event photographer", "Product photographer", "Portrait photographer", "Drone pilot"),
          ("photography", "Lightroom", "lighting", "retouching"), (150, 1500, "project")),
    Theme("virtual-assistant", "Virtual Assistance", "Inbox, calendar and admin for busy people.",
          ("Virtual assistant", "Bookkeeper", "Data entry clerk", "Customer support agent"),
          ("organisation", "spreadsheets", "email", "bookkeeping"), (15, 35, "hour")),
    Theme("crafts", "Handmade Crafts", "Make things by hand and sell them online or at markets.",
          ("Candle maker", "Jewellery maker", "Knitter", "Woodworker", "Ceramicist"),
          ("crafting", "Etsy", "photography", "packaging"), (50, 1200, "month")),
    Theme("fitness", "Fitness Coaching", "Personal training and classes, in person or online.",
          ("Personal trainer", "Yoga instructor", "Running coach", "Nutrition coach"),
          ("coaching", "motivation", "anatomy", "programming"), (20, 80, "hour")),
    Theme("video-editing", "Video Editing", "Cut, caption and polish video for creators.",
          ("YouTube editor", "Short-form editor", "Podcast editor", "Motion designer"),
          ("Premiere Pro", "DaVinci Resolve", "captions", "sound"), (200, 3000, "month")),
)  # fmt: skip

AUDIENCES = (
    "small businesses", "local cafes", "startups", "students", "busy parents", "creators",
    "non-profits", "retirees", "estate agents", "independent shops",
)  # fmt: skip
ADJECTIVES = ("Flexible", "Weekend", "Evening", "Part-time", "Remote", "Local", "Seasonal")
CITIES = (
    "London, UK", "Manchester, UK", "Leeds, UK", "Bristol, UK", "Glasgow, UK", "Dublin, IE",
    "Austin, US", "Denver, US", "Toronto, CA", "Berlin, DE", "Lisbon, PT", "Melbourne, AU",
)  # fmt: skip
CURRENCIES = {"UK": "GBP", "IE": "EUR", "US": "USD", "CA": "CAD", "DE": "EUR", "PT": "EUR",
              "AU": "AUD"}  # fmt: skip
