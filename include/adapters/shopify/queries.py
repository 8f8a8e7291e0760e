"""GraphQL documents, sized so each stays under Shopify's single-query cost limit (1000)."""

from __future__ import annotations

ORDERS_PAGE = 25  # 25 orders x (5 + 3 x 10 lines) + 2 = 877 points requested
LINES_PAGE = 10
MORE_LINES_PAGE = 100

_LINE = (
    "id sku quantity requiresShipping isGiftCard "
    "originalUnitPriceSet { shopMoney { amount currencyCode } }"
)

SHOP = "query Shop { shop { name } currentAppInstallation { accessScopes { handle } } }"

FIRST_LOCATION = "query FirstLocation { locations(first: 1) { nodes { id name } } }"

LOCATION = "query Location($id: ID!) { location(id: $id) { id name } }"

ORDERS = f"""
query Orders($first: Int!, $after: String, $query: String!, $lines: Int!) {{
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      id name createdAt updatedAt email currencyCode tags cancelledAt cancelReason
      displayFinancialStatus displayFulfillmentStatus
      shippingAddress {{ name company address1 address2 city provinceCode zip countryCodeV2 phone }}
      shippingLine {{ title code }}
      lineItems(first: $lines) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {_LINE} }} }}
    }}
  }}
}}"""

ORDER_LINES = f"""
query OrderLines($id: ID!, $first: Int!, $after: String) {{
  order(id: $id) {{
    lineItems(first: $first, after: $after) {{
      pageInfo {{ hasNextPage endCursor }} nodes {{ {_LINE} }}
    }}
  }}
}}"""

FULFILLMENT_TARGETS = """
query FulfillmentTargets($id: ID!) {
  order(id: $id) {
    id
    fulfillments(first: 25) { id trackingInfo(first: 5) { number } }
    fulfillmentOrders(first: 5) {
      nodes {
        id status
        lineItems(first: 50) { nodes { id sku remainingQuantity lineItem { id } } }
      }
    }
  }
}"""

FULFILLMENT_CREATE = """
mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}"""

VARIANTS_PAGE = 200  # 200 x 4 + 2 = 802 points requested
SKUS_PER_LOOKUP = 100

VARIANTS_BY_SKU = """
query VariantsBySku($query: String!, $first: Int!, $after: String, $locationId: ID!) {
  productVariants(first: $first, after: $after, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes {
      sku
      inventoryItem {
        id
        inventoryLevel(locationId: $locationId) {
          quantities(names: ["available"]) { name quantity }
        }
      }
    }
  }
}"""

SET_QUANTITIES_BATCH = 250

INVENTORY_SET_QUANTITIES = """
mutation SetAvailable($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}"""
