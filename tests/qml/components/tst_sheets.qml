import QtQuick
import QtTest
import Kith.Conversations
import Kith.Groups
import Kith.Search
import Kith.Theme

// The pickers: the quick switcher filters and opens with Enter, a new group
// needs a name and members, a new chat opens the user picked.
Item {
    id: root
    width: 800
    height: 600

    ListModel {
        id: conversations
        ListElement { conversationId: "d:1:2"; title: "Bob Stone"; isGroup: false; peerUserId: 2; peerOnline: true; lastMessage: "hi"; lastActivity: 0; unreadCount: 0 }
        ListElement { conversationId: "g:5"; title: "Release crew"; isGroup: true; peerUserId: 0; peerOnline: false; lastMessage: "ok"; lastActivity: 0; unreadCount: 2 }
        ListElement { conversationId: "d:1:3"; title: "Carol Reed"; isGroup: false; peerUserId: 3; peerOnline: false; lastMessage: "yes"; lastActivity: 0; unreadCount: 0 }
    }
    ListModel {
        id: members
        ListElement { userId: 1; username: "alice"; displayName: "alice"; role: 3; roleName: "owner"; online: true; isMe: true }
        ListElement { userId: 2; username: "bob"; displayName: "Bob Stone"; role: 1; roleName: "member"; online: true; isMe: false }
    }
    ListModel {
        id: users
        ListElement { userId: 2; username: "bob"; displayName: "Bob Stone"; online: true }
        ListElement { userId: 3; username: "carol"; displayName: "Carol Reed"; online: false }
    }

    // A user search model as the app's: the people one knows for an empty
    // query, everyone after showDirectory().
    ListModel {
        id: directory
        property int directoryCalls: 0
        function showDirectory() {
            ++directoryCalls;
            clear();
            for (const name of ["ann", "bob", "carol", "dave"])
                append({ userId: name.length + count, username: name, displayName: name, online: false });
        }
    }

    QuickSwitcher {
        id: switcher
        parent: root
        model: conversations
    }
    NewGroupSheet {
        id: newGroup
        parent: root
        searchModel: users
    }
    NewChatSheet {
        id: newChat
        parent: root
        searchModel: users
    }

    GroupDetailsSheet {
        id: details
        parent: root
        groupName: "Release crew"
        conversationId: "g:5"
        members: members
        searchModel: users
        myRole: 3
    }

    MessageSearchSheet {
        id: search
        parent: root
        titleOf: id => id === "d:1:2" ? "bob" : id === "g:5" ? "Release crew" : id
    }
    SignalSpy { id: queryEditSpy; target: search; signalName: "queryEdited" }
    // Answers the search as the app does, from 120 matching messages: as
    // many as the sheet wants, newest first.
    property bool feedSearch: false
    Connections {
        target: search
        enabled: root.feedSearch
        function onQueryEdited(query) {
            const list = [];
            for (let i = 0; i < Math.min(120, search.wanted); ++i)
                list.push({ conversationId: "d:1:2", seq: 500 - i, text: query + " number " + (500 - i), senderName: "bob", isOwn: false, isGroup: false, time: new Date() });
            search.results = list;
        }
    }

    SignalSpy { id: leaveSpy; target: details; signalName: "leaveRequested" }
    SignalSpy { id: chosenSpy; target: switcher; signalName: "conversationChosen" }
    SignalSpy { id: createSpy; target: newGroup; signalName: "createRequested" }
    SignalSpy { id: userSpy; target: newChat; signalName: "userChosen" }

    TestCase {
        name: "Sheets"
        when: windowShown

        function cleanup() {
            root.feedSearch = false;
            search.close();
        }

        function typeText(text) {
            for (let i = 0; i < text.length; ++i)
                keyClick(text[i]);
        }

        function test_switcherFiltersAndOpens() {
            switcher.open();
            tryCompare(switcher, "opened", true);
            typeText("rel");
            tryCompare(switcher, "highlightedId", "g:5");
            keyClick(Qt.Key_Return);
            compare(chosenSpy.count, 1);
            compare(chosenSpy.signalArguments[0][0], "g:5");
            tryCompare(switcher, "visible", false);
        }

        function test_switcherArrowKeys() {
            chosenSpy.clear();
            switcher.open();
            tryCompare(switcher, "opened", true);
            compare(switcher.query, "");
            keyClick(Qt.Key_Down);
            keyClick(Qt.Key_Down);
            keyClick(Qt.Key_Up);
            keyClick(Qt.Key_Return);
            compare(chosenSpy.signalArguments[0][0], "g:5");
        }

        // The switcher is as tall as its rows, not a fixed box with a gap.
        function test_switcherFitsItsRows() {
            switcher.open();
            tryCompare(switcher, "opened", true);
            // Three rows of 52 px under the field.
            tryVerify(() => switcher.height >= 3 * 52);
            const all = switcher.height;
            verify(all < 440, "fixed height " + all);
            typeText("rel");
            tryVerify(() => switcher.height < all, 5000, "height " + switcher.height + " of " + all);
            keyClick(Qt.Key_Escape);
            tryCompare(switcher, "visible", false);
        }

        function test_switcherEscapeCloses() {
            chosenSpy.clear();
            switcher.open();
            tryCompare(switcher, "opened", true);
            keyClick(Qt.Key_Escape);
            tryCompare(switcher, "visible", false);
            compare(chosenSpy.count, 0);
        }

        function test_newGroupNeedsNameAndMembers() {
            newGroup.open();
            tryCompare(newGroup, "opened", true);
            const button = findChild(newGroup.contentItem, "createGroupButton");
            verify(button);
            verify(!button.enabled);
            newGroup.toggle("bob", "Bob Stone");
            verify(!button.enabled, "a name is still missing");
            typeText("Crew");
            verify(button.enabled);
            newGroup.toggle("carol", "Carol Reed");
            newGroup.toggle("bob", "Bob Stone");
            newGroup.toggle("bob", "Bob Stone");
            mouseClick(button);
            compare(createSpy.count, 1);
            compare(createSpy.signalArguments[0][0], "Crew");
            compare(createSpy.signalArguments[0][1].length, 2);
            verify(createSpy.signalArguments[0][1].indexOf("carol") >= 0);
            verify(createSpy.signalArguments[0][1].indexOf("bob") >= 0);
            newGroup.close();
        }

        // Someone who knows nobody yet sees everyone at once; someone who
        // does sees them first, and everyone a click away.
        function test_newChatListsEveryoneOnTheServer() {
            directory.clear();
            directory.directoryCalls = 0;
            newChat.searchModel = directory;
            newChat.open();
            tryCompare(newChat, "opened", true);
            tryCompare(directory, "directoryCalls", 1);
            compare(directory.count, 4);
            verify(newChat.showingEveryone);
            newChat.close();
            tryCompare(newChat, "visible", false);

            directory.clear();
            directory.append({ userId: 2, username: "bob", displayName: "Bob Stone", online: true });
            directory.directoryCalls = 0;
            newChat.open();
            tryCompare(newChat, "opened", true);
            wait(50);
            compare(directory.directoryCalls, 0, "the people one knows come first");
            const everyone = findChild(newChat.contentItem, "everyoneButton");
            verify(everyone);
            tryVerify(() => everyone.visible);
            mouseClick(everyone);
            compare(directory.directoryCalls, 1);
            compare(directory.count, 4);
            verify(!everyone.visible);
            newChat.close();
            tryCompare(newChat, "visible", false);
            newChat.searchModel = users;
        }

        function test_newChatEnterPicksFirstResult() {
            newChat.open();
            tryCompare(newChat, "opened", true);
            typeText("b");
            keyClick(Qt.Key_Return);
            compare(userSpy.count, 1);
            compare(userSpy.signalArguments[0][0], "bob");
            newChat.close();
        }
    
        // "Leave group" asks first; "Stay" keeps the group.
        function test_leaveGroupAsksFirst() {
            details.open();
            tryCompare(details, "opened", true);
            const leave = findChild(details.contentItem, "leaveButton");
            const confirmation = findChild(details.contentItem, "leaveConfirmation");
            verify(leave.visible);
            verify(!confirmation.visible);
            mouseClick(leave);
            compare(leaveSpy.count, 0);
            verify(confirmation.visible);
            mouseClick(findChild(details.contentItem, "cancelLeaveButton"));
            compare(leaveSpy.count, 0);
            verify(leave.visible);
            mouseClick(leave);
            mouseClick(findChild(details.contentItem, "confirmLeaveButton"));
            compare(leaveSpy.count, 1);
            details.close();
        }

        // The own row reads "alice (you)" with alice's initial, not "A(".
        function test_ownMemberRowKeepsItsInitials() {
            details.open();
            tryCompare(details, "opened", true);
            const list = findChild(details.contentItem, "memberList");
            tryVerify(() => list.itemAtIndex(0) !== null);
            const row = list.itemAtIndex(0);
            compare(row.name, "alice");
            compare(row.nameSuffix, "(you)");
            compare(Theme.initials(row.name), "A");
            details.close();
        }
    
        // From a chat's header the search is in that chat, with a way out to
        // all chats; rows name the chat once ("bob", not "bob · bob") and
        // mark the words searched for.
        function test_searchInOneChatThenAll() {
            search.openIn("d:1:2");
            tryCompare(search, "opened", true);
            compare(search.title, "Search in bob");
            const scope = findChild(search.contentItem, "scopeRow");
            verify(scope.visible);
            typeText("lunch");
            search.results = [
                { conversationId: "d:1:2", seq: 7, text: "Lunch at noon?", senderName: "bob", isOwn: false, isGroup: false, time: new Date() },
                { conversationId: "g:5", seq: 3, text: "after lunch", senderName: "carol", isOwn: false, isGroup: true, time: new Date() },
                { conversationId: "d:1:2", seq: 9, text: "lunch it is", senderName: "ann", isOwn: true, isGroup: false, time: new Date() }
            ];
            const list = findChild(search.contentItem, "searchResults");
            tryVerify(() => list.itemAtIndex(2) !== null);
            compare(findChild(list.itemAtIndex(0), "resultTitle").text, "bob");
            const first = findChild(list.itemAtIndex(0), "resultText").text;
            verify(first.indexOf("background-color") > 0 && first.indexOf("Lunch</span>") > 0, first);
            verify(findChild(list.itemAtIndex(1), "resultText").text.indexOf("carol: ") >= 0);
            verify(findChild(list.itemAtIndex(2), "resultText").text.indexOf("You: ") >= 0);
            queryEditSpy.clear();
            mouseClick(findChild(search.contentItem, "widenSearchButton"));
            compare(search.scopeConversationId, "");
            verify(!scope.visible);
            compare(queryEditSpy.count, 1);
            compare(queryEditSpy.signalArguments[0][0], "lunch");
            search.close();
        }

        // Reaching the end of a full list asks for a page more, keeping the
        // reader where they were; a list shorter than asked for is all there
        // is; new words start from one page again.
        function test_searchAsksForMoreAtTheEnd() {
            root.feedSearch = true;
            search.openIn("d:1:2");
            tryCompare(search, "opened", true);
            typeText("plan");
            compare(search.wanted, search.pageSize);
            compare(search.results.length, 50);
            const list = findChild(search.contentItem, "searchResults");
            list.positionViewAtEnd();
            tryCompare(search, "wanted", 100);
            compare(search.results.length, 100);
            // Still at the row that was at the top, not back at the first.
            tryVerify(() => list.indexAt(0, list.contentY + 1) > 30);
            list.positionViewAtEnd();
            tryCompare(search, "wanted", 150);
            compare(search.results.length, 120);
            list.positionViewAtEnd();
            wait(100);
            compare(search.wanted, 150, "asked for more than there is");
            keyClick("s");
            compare(search.wanted, search.pageSize);
            compare(search.results.length, 50);
            search.close();
            root.feedSearch = false;
        }
    }
}
