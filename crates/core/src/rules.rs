//! The rules an admin relies on, as plain functions over plain data: which directory
//! wins, who belongs to which group, who gets product access, which groups never move,
//! which emails are usable. No database, no HTTP: tested on their own.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Groups that are never migrated; their members still are.
pub const BLOCKLISTED_GROUPS: [&str; 4] = ["site-admins", "system-administrators", "atlassian-addons", "atlassian-addons-admin"];

/// Whether a group (any case) is blocklisted.
pub fn is_blocklisted(group: &str) -> bool {
    BLOCKLISTED_GROUPS.contains(&group.to_lowercase().as_str())
}

/// A user row as read from one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// cwd_user.id.
    pub id: i64,
    /// The directory holding this row.
    pub directory_id: i64,
    /// Username.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Email as stored.
    pub email: Option<String>,
    /// Whether the user is active in that directory.
    pub active: bool,
}

/// The outcome of resolving users across ordered directories.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResolvedUsers {
    /// One user per lower-cased username: the row of the first directory in order.
    pub users: Vec<DirectoryUser>,
    /// Rows hidden by a row of an earlier directory (same username).
    pub shadowed: Vec<DirectoryUser>,
}

impl ResolvedUsers {
    /// Every row: the users, then the rows they shadow.
    pub fn all_rows(&self) -> impl Iterator<Item = &DirectoryUser> {
        self.users.iter().chain(&self.shadowed)
    }

    /// The user whose lower-cased username is `lower_name` (the users are in that order).
    pub fn find(&self, lower_name: &str) -> Option<&DirectoryUser> {
        let at = self.users.binary_search_by(|u| u.username.to_lowercase().as_str().cmp(lower_name)).ok()?;
        Some(&self.users[at])
    }
}

/// Keep, for each username, the user of the first directory in `order`; the others
/// are shadowed. Users of directories not in the order come last. The users come out
/// in lower-cased username order. The rows are sorted and split in place: a large
/// site's directory is not copied.
pub fn resolve_directories(order: &[i64], rows: Vec<DirectoryUser>) -> ResolvedUsers {
    let rank = |dir: i64| order.iter().position(|d| *d == dir).unwrap_or(usize::MAX);
    let mut users = rows;
    users.sort_by_cached_key(|u| (u.username.to_lowercase(), rank(u.directory_id), u.id));
    let mut last: Option<String> = None;
    let shadowed = users
        .extract_if(.., |row| {
            let name = row.username.to_lowercase();
            if last.as_deref() == Some(name.as_str()) {
                return true;
            }
            last = Some(name);
            false
        })
        .collect();
    users.shrink_to_fit();
    ResolvedUsers { users, shadowed }
}

/// A group row of one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    /// cwd_group.id.
    pub id: i64,
    /// The directory.
    pub directory_id: i64,
    /// Group name.
    pub name: String,
}

/// A membership row: a user or a nested group in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// cwd_user.id.
    User(i64),
    /// cwd_group.id of a nested group.
    Group(i64),
}

/// Each lower-cased username's groups (lower-cased names): the union over every
/// directory where the username exists, with nested groups flattened (a member of a
/// nested group belongs to every group that contains it, transitively).
pub fn memberships<'a>(
    users: impl IntoIterator<Item = &'a DirectoryUser>,
    groups: &[DirectoryGroup],
    members: &[(i64, Member)],
) -> BTreeMap<String, BTreeSet<String>> {
    let group_name: HashMap<i64, String> = groups.iter().map(|g| (g.id, g.name.to_lowercase())).collect();
    let user_name: HashMap<i64, &str> = users.into_iter().map(|u| (u.id, u.username.as_str())).collect();
    // Parents of each group (nested groups), to walk upwards.
    let mut parents: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut direct: HashMap<i64, Vec<i64>> = HashMap::new();
    for (parent, member) in members {
        match member {
            Member::Group(child) => parents.entry(*child).or_default().push(*parent),
            Member::User(user) => direct.entry(*user).or_default().push(*parent),
        }
    }
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (user, groups_of_user) in direct {
        let Some(name) = user_name.get(&user) else { continue };
        let entry = out.entry(name.to_lowercase()).or_default();
        let mut stack = groups_of_user;
        let mut seen = BTreeSet::new();
        while let Some(g) = stack.pop() {
            if !seen.insert(g) {
                continue;
            }
            if let Some(n) = group_name.get(&g) {
                entry.insert(n.clone());
            }
            stack.extend(parents.get(&g).into_iter().flatten().copied());
        }
    }
    out
}

/// Jira: the lower-cased usernames with application access, from each username's
/// (flattened, all-directory) groups and the groups `licenserolesgroup` lists
/// (lower-cased names). Everyone else is unlicensed: a portal-only customer.
pub fn licensed_users(memberships: &BTreeMap<String, BTreeSet<String>>, licensed_groups: &BTreeSet<String>) -> std::collections::HashSet<String> {
    memberships.iter().filter(|(_, groups)| groups.iter().any(|g| licensed_groups.contains(g))).map(|(user, _)| user.clone()).collect()
}

/// What to do about a user's product access in the cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessDecision {
    /// Add the user to the product-access group.
    Grant,
    /// Leave the user's access as it is (with or without).
    Keep,
    /// Create or link the user without product access.
    Without,
}

/// The product-access rule. `cloud_has_access` is `None` when the account is new.
/// - new and enabled on the server → granted;
/// - new and disabled on the server → active account without access (not billed);
/// - exists with access, disabled on the server → keeps its access;
/// - exists without access, enabled on the server → granted.
pub fn product_access(server_active: bool, cloud_has_access: Option<bool>) -> AccessDecision {
    match (server_active, cloud_has_access) {
        (true, None) | (true, Some(false)) => AccessDecision::Grant,
        (false, None) => AccessDecision::Without,
        (_, Some(true)) | (false, Some(false)) => AccessDecision::Keep,
    }
}

/// Whether an email address is usable as a cloud account's identity: one `@`, a
/// non-empty local part, a dotted domain, no spaces or control characters.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && email.chars().all(|c| !c.is_whitespace() && !c.is_control())
        && email.len() <= 254
}

/// What the email rule makes of the users a plan migrates: email is the identity, so an
/// invalid address, or one a user shares with an earlier user, stops that user. `U` is
/// a user or a reference to one.
#[derive(Debug, PartialEq, Eq)]
pub struct EmailReview<U = DirectoryUser> {
    /// Users with a usable address of their own, with the address lower-cased.
    pub usable: Vec<(U, String)>,
    /// Users whose address is not usable, with the address as stored (trimmed).
    pub invalid: Vec<(U, String)>,
    /// Users whose address an earlier user already has: (user, address, earlier user name).
    pub shared: Vec<(U, String, String)>,
}

/// Sort users by the email rule, in their order (the first user with an address keeps
/// it). Each usable address is held once: the check for shared ones borrows it.
pub fn review_emails<U: Borrow<DirectoryUser>>(users: impl IntoIterator<Item = U>) -> EmailReview<U> {
    let mut invalid = Vec::new();
    let mut usable: Vec<(U, String)> = Vec::new();
    for user in users {
        let email = user.borrow().email.as_deref().unwrap_or_default().trim().to_string();
        if is_valid_email(&email) {
            usable.push((user, email.to_lowercase()));
        } else {
            invalid.push((user, email));
        }
    }
    // Where an address comes again, the name of its first user, by position.
    let mut earlier: BTreeMap<usize, String> = BTreeMap::new();
    {
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(usable.len());
        for (at, (_, email)) in usable.iter().enumerate() {
            if let Some(&first_at) = first.get(email.as_str()) {
                earlier.insert(at, usable[first_at].0.borrow().username.clone());
            } else {
                first.insert(email, at);
            }
        }
    }
    let mut at = 0;
    let again: Vec<(U, String)> = usable
        .extract_if(.., |_| {
            at += 1;
            earlier.contains_key(&(at - 1))
        })
        .collect();
    let shared = again
        .into_iter()
        .zip(earlier.into_values())
        .map(|((user, _), first)| {
            let stored = user.borrow().email.as_deref().unwrap_or_default().trim().to_string();
            (user, stored, first)
        })
        .collect();
    EmailReview { usable, invalid, shared }
}

/// The domain of an address, lower-cased.
pub fn email_domain(email: &str) -> Option<String> {
    email.rsplit_once('@').map(|(_, d)| d.trim().to_lowercase())
}

/// The Cloud space permission (operation key and target, as the REST API takes them) of
/// a Server space permission type, or why it has none.
pub fn cloud_space_operation(server_type: &str) -> Result<(&'static str, &'static str), &'static str> {
    Ok(match server_type {
        "VIEWSPACE" => ("read", "space"),
        "REMOVEOWNCONTENT" => ("delete", "space"),
        "EDITSPACE" => ("create", "page"),
        "REMOVEPAGE" => ("delete", "page"),
        "EDITBLOG" => ("create", "blogpost"),
        "REMOVEBLOG" => ("delete", "blogpost"),
        "COMMENT" => ("create", "comment"),
        "REMOVECOMMENT" => ("delete", "comment"),
        "CREATEATTACHMENT" => ("create", "attachment"),
        "REMOVEATTACHMENT" => ("delete", "attachment"),
        "SETPAGEPERMISSIONS" => ("restrict_content", "space"),
        "EXPORTSPACE" => ("export", "space"),
        "SETSPACEPERMISSIONS" => ("administer", "space"),
        "ARCHIVEPAGE" => ("archive", "page"),
        "REMOVEMAIL" => return Err("Confluence Cloud has no mail archive"),
        _ => return Err("Confluence Cloud has no such space permission"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_server_space_permission_has_its_cloud_operation_or_a_reason() {
        assert_eq!(super::cloud_space_operation("VIEWSPACE"), Ok(("read", "space")));
        assert_eq!(super::cloud_space_operation("EDITSPACE"), Ok(("create", "page")));
        assert_eq!(super::cloud_space_operation("REMOVEOWNCONTENT"), Ok(("delete", "space")));
        assert_eq!(super::cloud_space_operation("SETPAGEPERMISSIONS"), Ok(("restrict_content", "space")));
        assert!(super::cloud_space_operation("REMOVEMAIL").unwrap_err().contains("mail"));
        assert!(super::cloud_space_operation("NOSUCH").is_err());
    }

    use super::*;

    fn user(id: i64, dir: i64, name: &str) -> DirectoryUser {
        DirectoryUser { id, directory_id: dir, username: name.into(), display_name: name.into(), email: None, active: true }
    }

    #[test]
    fn the_first_directory_in_order_wins_and_the_others_are_shadowed() {
        let resolved = resolve_directories(&[2, 1, 3], vec![user(1, 1, "alice"), user(2, 2, "Alice"), user(3, 3, "bob")]);
        assert_eq!(resolved.users.iter().map(|u| u.id).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(resolved.shadowed.iter().map(|u| u.id).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn memberships_are_the_union_over_directories_with_nested_groups_flattened() {
        let users = [user(1, 1, "alice"), user(2, 2, "alice")];
        let groups = [
            DirectoryGroup { id: 10, directory_id: 1, name: "Backend".into() },
            DirectoryGroup { id: 11, directory_id: 1, name: "engineering".into() },
            DirectoryGroup { id: 20, directory_id: 2, name: "marketing".into() },
        ];
        let members = [(10, Member::User(1)), (11, Member::Group(10)), (20, Member::User(2))];
        let m = memberships(&users, &groups, &members);
        assert_eq!(m["alice"], ["backend", "engineering", "marketing"].into_iter().map(String::from).collect());
    }

    #[test]
    fn product_access_follows_the_server_and_never_takes_cloud_access_away() {
        assert_eq!(product_access(true, None), AccessDecision::Grant);
        assert_eq!(product_access(false, None), AccessDecision::Without);
        assert_eq!(product_access(false, Some(true)), AccessDecision::Keep);
        assert_eq!(product_access(true, Some(false)), AccessDecision::Grant);
        assert_eq!(product_access(false, Some(false)), AccessDecision::Keep);
    }

    #[test]
    fn blocklisted_groups_match_in_any_case() {
        assert!(is_blocklisted("Site-Admins"));
        assert!(!is_blocklisted("confluence-users"));
    }

    #[test]
    fn a_shared_email_stays_with_the_first_user() {
        let mut a = user(1, 1, "a");
        a.email = Some("Same@Example.com".into());
        let mut b = user(2, 1, "b");
        b.email = Some("same@example.com ".into());
        let c = user(3, 1, "c");
        let review = review_emails(vec![a, b, c]);
        assert_eq!(review.usable.len(), 1);
        assert_eq!(review.usable[0].1, "same@example.com");
        assert_eq!(review.shared[0].2, "a");
        assert_eq!(review.invalid[0].0.username, "c");
    }

    #[test]
    fn each_shared_email_names_its_own_first_user_in_order_when_reviewing_borrowed_users() {
        let with = |id: i64, name: &str, email: &str| DirectoryUser { email: Some(email.into()), ..user(id, 1, name) };
        let users = [
            with(1, "ann", "x@example.com"),
            with(2, "bob", "Y@example.com"),
            with(3, "cy", "X@example.com"),
            with(4, "dee", "z@example.com"),
            with(5, "eve", "y@example.com"),
            with(6, "fay", "x@example.com"),
        ];
        let review = review_emails(users.iter());
        let usable: Vec<(&str, &str)> = review.usable.iter().map(|(u, e)| (u.username.as_str(), e.as_str())).collect();
        assert_eq!(usable, [("ann", "x@example.com"), ("bob", "y@example.com"), ("dee", "z@example.com")]);
        let shared: Vec<(&str, &str, &str)> = review.shared.iter().map(|(u, e, first)| (u.username.as_str(), e.as_str(), first.as_str())).collect();
        assert_eq!(shared, [("cy", "X@example.com", "ann"), ("eve", "y@example.com", "bob"), ("fay", "x@example.com", "ann")]);
        assert!(review.invalid.is_empty());
    }

    #[test]
    fn resolved_users_are_found_by_lower_cased_name() {
        let resolved = resolve_directories(&[1, 2], vec![user(1, 2, "Zed"), user(2, 1, "amy"), user(3, 1, "zed"), user(4, 2, "Bo")]);
        assert_eq!(resolved.find("zed").map(|u| u.id), Some(3));
        assert_eq!(resolved.find("bo").map(|u| u.id), Some(4));
        assert_eq!(resolved.find("Bo"), None, "the name asked for is lower-cased");
        assert_eq!(resolved.find("nobody"), None);
        assert_eq!(resolved.shadowed.iter().map(|u| u.id).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn emails_must_be_usable_identities() {
        assert!(is_valid_email("a.b@example.com"));
        for bad in ["not-an-email", "a@b", "a @b.com", "@b.com", "a@b..com", "a@@b.com"] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
