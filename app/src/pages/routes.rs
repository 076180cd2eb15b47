//! The lazy routes: the login page is in the main WebAssembly module; the
//! layout and every other page are in chunks loaded on demand
//! (`cargo leptos build --release --split`, see `scripts/build`).
//!
//! Pages are split by area, not one by one: the splitter makes one file for
//! every distinct set of split points that shares some code, so fifteen
//! split points made almost 700 files (the guests page alone needed 400 of
//! them), and seven still made 106 (55 for the guests page) — far too many
//! requests for a phone. Four areas here (fleet, maintenance, guest, manage),
//! one split point each (`#[lazy]` functions taking the page to show), and
//! the fleet pages' dialogs (`components::dialog::fleet_dialog`) make 31
//! files, most of them small shared pieces; a page loads sixteen or fewer
//! besides the main module, all preloaded by the server's HTML for the
//! page it sends. The hosts page is not in the fleet area although the top
//! bar links to it: moving it out took 65 KB (brotli) off what `/guests`
//! loads. The guest page's dialogs stay in its area: a split point of their
//! own would cost more files than the bytes it saves.
//!
//! A new page: a `#[component]` in its module, a variant in its area's enum
//! and match, a route type with `lazy_pages!`, and `Lazy::<ItsRoute>::new()`
//! in `App`'s routes.

use leptos::prelude::*;
use leptos_router::LazyRoute;

use super::{
    account::AccountPage,
    audit::AuditPage,
    balance::BalancePage,
    console::{SerialConsolePage, VncConsolePage},
    evacuation::EvacuationPage,
    guest::GuestPage,
    guest_new::NewGuestPage,
    guests::GuestsPage,
    hosts::HostsPage,
    layout::Layout,
    migrations::MigrationsPage,
    storage::{volumes::PoolPage, StoragePage},
    users::UsersPage,
};

/// The fleet: the frame around every page and the guest list — what a
/// phone opens first.
#[derive(Clone, Copy)]
pub enum Fleet {
    Layout,
    Guests,
}

#[lazy]
fn fleet_area(page: Fleet) -> AnyView {
    match page {
        Fleet::Layout => view! { <Layout /> }.into_any(),
        Fleet::Guests => view! { <GuestsPage /> }.into_any(),
    }
}

/// A maintenance window: the hosts and an evacuation's progress (not in the
/// fleet area: the guest list does not load them).
#[derive(Clone, Copy)]
pub enum Maintenance {
    Hosts,
    Evacuation,
}

#[lazy]
fn maintenance_area(page: Maintenance) -> AnyView {
    match page {
        Maintenance::Hosts => view! { <HostsPage /> }.into_any(),
        Maintenance::Evacuation => view! { <EvacuationPage /> }.into_any(),
    }
}

/// One guest: its page, the new-guest wizard and the consoles.
#[derive(Clone, Copy)]
pub enum Guest {
    Detail,
    New,
    Vnc,
    Serial,
}

#[lazy]
fn guest_area(page: Guest) -> AnyView {
    match page {
        Guest::Detail => view! { <GuestPage /> }.into_any(),
        Guest::New => view! { <NewGuestPage /> }.into_any(),
        Guest::Vnc => view! { <VncConsolePage /> }.into_any(),
        Guest::Serial => view! { <SerialConsolePage /> }.into_any(),
    }
}

/// Managing: storage, moving guests (migrations, the balance advisor) and
/// people (one's account, the users, the audit log).
#[derive(Clone, Copy)]
pub enum Manage {
    Pools,
    Pool,
    Migrations,
    Balance,
    Account,
    Users,
    Audit,
}

#[lazy]
fn manage_area(page: Manage) -> AnyView {
    match page {
        Manage::Pools => view! { <StoragePage /> }.into_any(),
        Manage::Pool => view! { <PoolPage /> }.into_any(),
        Manage::Migrations => view! { <MigrationsPage /> }.into_any(),
        Manage::Balance => view! { <BalancePage /> }.into_any(),
        Manage::Account => view! { <AccountPage /> }.into_any(),
        Manage::Users => view! { <UsersPage /> }.into_any(),
        Manage::Audit => view! { <AuditPage /> }.into_any(),
    }
}

/// Route types whose view is an area's page. `preload` fetches the area's
/// chunks: the router awaits it before hydrating (and before navigating), so
/// that the view is ready when the server's HTML is hydrated — without it the
/// page does not hydrate at all.
macro_rules! lazy_pages {
    ($($route:ident => $area:ident($page:expr), $preload:ident;)*) => {$(
        #[doc = concat!("The lazily loaded route of `", stringify!($page), "`.")]
        pub struct $route;

        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            async fn view(_this: Self) -> AnyView {
                crate::bundles::preload(stringify!($area));
                $area($page).await
            }

            async fn preload() {
                #[cfg(feature = "hydrate")]
                $preload().await;
            }
        }
    )*};
}

lazy_pages! {
    LayoutRoute => fleet_area(Fleet::Layout), __preload_fleet_area;
    GuestsRoute => fleet_area(Fleet::Guests), __preload_fleet_area;
    HostsRoute => maintenance_area(Maintenance::Hosts), __preload_maintenance_area;
    GuestRoute => guest_area(Guest::Detail), __preload_guest_area;
    NewGuestRoute => guest_area(Guest::New), __preload_guest_area;
    VncConsoleRoute => guest_area(Guest::Vnc), __preload_guest_area;
    SerialConsoleRoute => guest_area(Guest::Serial), __preload_guest_area;
    StorageRoute => manage_area(Manage::Pools), __preload_manage_area;
    PoolRoute => manage_area(Manage::Pool), __preload_manage_area;
    MigrationsRoute => manage_area(Manage::Migrations), __preload_manage_area;
    EvacuationRoute => maintenance_area(Maintenance::Evacuation), __preload_maintenance_area;
    BalanceRoute => manage_area(Manage::Balance), __preload_manage_area;
    AccountRoute => manage_area(Manage::Account), __preload_manage_area;
    UsersRoute => manage_area(Manage::Users), __preload_manage_area;
    AuditRoute => manage_area(Manage::Audit), __preload_manage_area;
}
